import type { StoredPublication } from './store.js';

/**
 * One topic's history: its publications in offset order, oldest first, with the time each was
 * appended and the UTF-8 bytes of their data. Appended at the end, trimmed at the front only,
 * so the offsets it holds are always contiguous.
 */
export class PublicationLog {
  private publications: StoredPublication[] = [];
  // A packed array of numbers beside the publications rather than a field of each: a time is a
  // heap number of its own when stored in an object, and eight bytes here.
  private times: number[] = [];
  private head = 0;
  private dataBytes = 0;

  /** Publications held. */
  get length(): number {
    return this.publications.length - this.head;
  }

  /** UTF-8 bytes of the data of the publications held. */
  get bytes(): number {
    return this.dataBytes;
  }

  /** When the oldest publication held was appended; `undefined` when empty. */
  get oldestTime(): number | undefined {
    return this.length > 0 ? this.times[this.head] : undefined;
  }

  /**
   * Adds a publication after the others; its offset must follow theirs.
   * @returns The UTF-8 bytes of its data.
   */
  push(publication: StoredPublication, at: number): number {
    const bytes = Buffer.byteLength(publication.data, 'utf8');
    this.publications.push(publication);
    this.times.push(at);
    this.dataBytes += bytes;
    return bytes;
  }

  /**
   * Removes the oldest publication. Only call when `length > 0`.
   * @returns The UTF-8 bytes of its data.
   */
  shift(): number {
    const bytes = Buffer.byteLength(this.publications[this.head].data, 'utf8');
    this.dataBytes -= bytes;
    // Let the publication be collected once it has left the history.
    this.publications[this.head] = undefined as unknown as StoredPublication;
    this.head++;
    if (this.head === this.publications.length) {
      this.publications = [];
      this.times = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.publications.length) {
      this.publications = this.publications.slice(this.head);
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
    return bytes;
  }

  /**
   * The publications with offsets after `after`, oldest first, at most `limit` of them.
   * @returns A new array (the publications themselves are shared).
   */
  after(after: number, limit: number): StoredPublication[] {
    if (this.length === 0 || limit === 0) return [];
    const skip = Math.max(0, after + 1 - this.publications[this.head].offset);
    const start = this.head + Math.min(skip, this.length);
    return this.publications.slice(start, start + limit);
  }
}
