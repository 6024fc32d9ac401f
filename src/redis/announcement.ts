import type { StoredPublication } from '../topics/store.js';

/** One batch appended to a topic, as its pub/sub message tells it. */
export interface Announcement {
  readonly epoch: string;
  readonly first: number;
  readonly publications: readonly StoredPublication[];
}

/**
 * Reads the message the append script publishes: `<epoch>\n<first offset>\n<data>\n<data>…`.
 * Data is one line of JSON each, so a newline only ever separates.
 * @param message The pub/sub message.
 * @returns The batch, or `undefined` if the message is not one.
 */
export function parseAnnouncement(message: string): Announcement | undefined {
  const lines = message.split('\n');
  if (lines.length < 3) return undefined;
  const [epoch = '', firstText = ''] = lines;
  const first = Number(firstText);
  if (epoch === '' || !Number.isSafeInteger(first) || first < 1) return undefined;
  const publications: StoredPublication[] = [];
  for (let index = 2; index < lines.length; index++) {
    publications.push({ offset: first + index - 2, data: lines[index] ?? '' });
  }
  return { epoch, first, publications };
}
