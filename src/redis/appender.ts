import type { AppendResult } from '../topics/store.js';
import type { Counters } from './counters.js';
import { TopicStoreOverloadedError } from './errors.js';

/** Bounds and window of an {@link Appender}. */
export interface AppenderOptions {
  readonly coalesceMs: number;
  readonly maxBatch: number;
  readonly maxBatchBytes: number;
  readonly maxPendingPublications: number;
  readonly maxPendingBytes: number;
}

/** Sends one batch of publications to a topic; resolves with the offsets given to the batch. */
export type SendBatch = (topic: string, data: readonly string[]) => Promise<AppendResult>;

interface PendingAppend {
  readonly data: readonly string[];
  readonly bytes: number;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Gathers the appends to each topic into batches: one call of `send` per topic per window, and
 * at most one in flight per topic, so that one process's appends reach Redis in the order they
 * were made. Appends made while a batch is in flight form the next batch.
 *
 * Everything accepted and not yet answered counts against `maxPendingPublications` and
 * `maxPendingBytes`, all topics together; an append beyond either is refused at once.
 */
export class Appender {
  /** Topics with appends waiting or in flight; a topic leaves once all of its are answered. */
  private readonly queues = new Map<string, PendingAppend[]>();
  private pendingPublications = 0;
  private pendingBytes = 0;
  private drainedWaiters: (() => void)[] = [];

  constructor(
    private readonly options: AppenderOptions,
    private readonly send: SendBatch,
    private readonly counters: Counters,
  ) {}

  /**
   * Queues publications for a topic.
   * @param topic The topic.
   * @param data The publications' data, in order; not empty.
   * @returns The epoch and offsets they were given.
   */
  append(topic: string, data: readonly string[]): Promise<AppendResult> {
    let bytes = 0;
    for (const item of data) bytes += Buffer.byteLength(item);
    const { maxPendingPublications, maxPendingBytes } = this.options;
    if (this.pendingPublications + data.length > maxPendingPublications) {
      return this.refuse(topic, data, `maxPendingPublications (${maxPendingPublications})`);
    }
    if (this.pendingBytes + bytes > maxPendingBytes) {
      return this.refuse(topic, data, `maxPendingBytes (${maxPendingBytes})`);
    }
    this.pendingPublications += data.length;
    this.pendingBytes += bytes;
    return new Promise<AppendResult>((resolve, reject) => {
      const queue = this.queues.get(topic);
      // A copy: the caller may reuse its array before the batch is sent.
      const entry = { data: data.slice(), bytes, resolve, reject };
      if (queue) {
        queue.push(entry);
        return;
      }
      this.queues.set(topic, [entry]);
      const flush = () => void this.flush(topic);
      if (this.options.coalesceMs > 0) setTimeout(flush, this.options.coalesceMs);
      else setImmediate(flush);
    });
  }

  /** Resolves once every append accepted so far is answered. */
  drained(): Promise<void> {
    if (this.queues.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainedWaiters.push(resolve));
  }

  private refuse(topic: string, data: readonly string[], limit: string): Promise<AppendResult> {
    this.counters.appendsOverloaded += data.length;
    return Promise.reject(new TopicStoreOverloadedError(topic, limit));
  }

  private async flush(topic: string): Promise<void> {
    const queue = this.queues.get(topic);
    if (!queue) return;
    while (queue.length > 0) {
      const batch = this.takeBatch(queue);
      const data = batch.flatMap((entry) => entry.data);
      try {
        const { epoch, first } = await this.send(topic, data);
        let offset = first;
        for (const entry of batch) {
          entry.resolve({ epoch, first: offset, last: offset + entry.data.length - 1 });
          offset += entry.data.length;
        }
        this.counters.publicationsAppended += data.length;
      } catch (error) {
        for (const entry of batch) entry.reject(error);
        this.counters.appendFailures += data.length;
      }
      for (const entry of batch) {
        this.pendingPublications -= entry.data.length;
        this.pendingBytes -= entry.bytes;
      }
    }
    this.queues.delete(topic);
    if (this.queues.size === 0) {
      const waiters = this.drainedWaiters;
      this.drainedWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /** Takes whole appends off the queue, up to the batch bounds (at least one). */
  private takeBatch(queue: PendingAppend[]): PendingAppend[] {
    const { maxBatch, maxBatchBytes } = this.options;
    let count = 0;
    let bytes = 0;
    let taken = 0;
    for (const entry of queue) {
      if (
        taken > 0 &&
        (count + entry.data.length > maxBatch || bytes + entry.bytes > maxBatchBytes)
      ) {
        break;
      }
      count += entry.data.length;
      bytes += entry.bytes;
      taken++;
    }
    return queue.splice(0, taken);
  }
}
