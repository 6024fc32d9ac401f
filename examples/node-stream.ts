import { connect, createServer } from 'node:net';
import type { Writable } from 'node:stream';
import { BehaviorSubject, interval, map, Subscription, take } from 'rxjs';
import type { Observable, SchedulerLike } from 'rxjs';
import { boundedBuffer, coalesce, ndjson, parseNdjson } from '../operators/index.js';
import type { NdjsonConfig, OverflowStrategy } from '../operators/index.js';

// Any Node `Writable` (a file, a TCP socket, a child's stdin, a gzip stream) as the sink of the
// transport-free operators: NDJSON records, one per line, with the stream's own backpressure
// (`write()` returning false, then 'drain') as the buffer's readiness.

/** Options of {@link pipeToWritable}. */
export interface PipeToWritableOptions<T> {
  /** Messages held while the stream cannot take more. Default 512. */
  capacity?: number;
  /** What to do with a message that finds the buffer full. Default `'drop-newest'`. */
  overflow?: OverflowStrategy;
  /** Sees every message that will never be written (overflow, or still held at the end). */
  onDrop?: (message: T) => void;
  /** Sees the number of held messages every time it changes. */
  onSize?: (size: number) => void;
  /** The coalescing window: one `write()` per window. Default 25 ms. */
  windowMs?: number;
  /** The most messages in one `write()`. Default 512. */
  maxBatch?: number;
  /** How messages are serialized (`schema`, `stringify`, `onError`). */
  ndjson?: NdjsonConfig<T>;
  /** Times the coalescing windows. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
  /** End the stream when `messages` completes. Default true. */
  end?: boolean;
}

/** What {@link pipeToWritable} returns. */
export interface WritableOutbox {
  /** The stream's demand: false from a `write()` that returned false until its 'drain'. */
  readonly ready: Observable<boolean>;
  /**
   * Settles when the pipe is over: resolves once `messages` completed and everything written
   * was flushed ('finish'; at once with `end: false`), or once `stop()` was called; rejects when
   * `messages` errored (the stream is then destroyed with that error), or when the stream
   * errored or closed first.
   */
  readonly done: Promise<void>;
  /** Unsubscribes from `messages` and leaves the stream as it is (not ended). */
  stop(): void;
}

/**
 * Writes `messages` to `writable` as NDJSON: each coalesced batch in one `write()`, every
 * record followed by `"\n"`, so the stream holds complete lines that `parseNdjson` (or any
 * NDJSON reader) splits back. The buffer holds messages while the stream's buffer is over its
 * high-water mark, so a slow file system or a slow TCP peer costs at most `capacity` messages,
 * one batch, and the stream's `writableHighWaterMark` plus one batch of bytes.
 */
export function pipeToWritable<T>(
  messages: Observable<T>,
  writable: Writable,
  options: PipeToWritableOptions<T> = {},
): WritableOutbox {
  const {
    capacity = 512,
    overflow,
    onDrop,
    onSize,
    windowMs = 25,
    maxBatch = 512,
    scheduler,
    end = true,
  } = options;

  const ready = new BehaviorSubject<boolean>(!writable.writableNeedDrain);
  const onDrain = () => ready.next(true);

  let settle!: (error?: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    let settled = false;
    settle = (error) => {
      if (settled) return;
      settled = true;
      if (error) reject(error);
      else resolve();
    };
  });
  // The caller may never look at `done`; its rejection must not crash the process.
  done.catch(() => undefined);

  const onError = (error: Error) => stopWith(error);
  const onClose = () => stopWith(new Error('the writable closed before the messages ended'));
  const onFinish = () => stopWith();
  // Listening before subscribing, and through a Subscription that exists before the pipe is
  // subscribed, so a `messages` that completes or errors synchronously is handled too.
  writable.on('drain', onDrain);
  writable.on('error', onError);
  writable.on('close', onClose);
  writable.on('finish', onFinish);
  const subscription = new Subscription();

  function stopWith(error?: Error): void {
    writable.off('drain', onDrain);
    writable.off('close', onClose);
    writable.off('finish', onFinish);
    // Keep a listener: an 'error' after we stop must not become an uncaught exception here.
    writable.off('error', onError);
    writable.on('error', () => undefined);
    subscription.unsubscribe();
    ready.complete();
    settle(error);
  }

  subscription.add(
    messages
      .pipe(
        boundedBuffer<T>(capacity, { ready, overflow, onDrop, onSize }),
        coalesce<T>(windowMs, { maxBatch, scheduler }),
        ndjson<T>(options.ndjson),
      )
      .subscribe({
        next: (text) => {
          if (!writable.write(text + '\n')) ready.next(false);
        },
        error: (err: unknown) => {
          const error = err instanceof Error ? err : new Error(String(err));
          stopWith(error);
          writable.destroy(error);
        },
        // With `end`, 'finish' settles `done` once the last record has been flushed.
        complete: () => (end ? writable.end() : stopWith()),
      }),
  );

  return { ready: ready.asObservable(), done, stop: () => stopWith() };
}

// `tsx examples/node-stream.ts`: a TCP server on PORT (default 8082) that sends 10,000 records
// to each client, and a client in the same process that reads them back with `parseNdjson`.
// Guarded so that importing this module (the tests do) starts nothing.
if (require.main === module) {
  const port = Number(process.env.PORT ?? 8082);
  const server = createServer((socket) => {
    const records = interval(0).pipe(
      take(10_000),
      map((i) => ({ type: 'record', i })),
    );
    pipeToWritable(records, socket).done.catch((error: unknown) =>
      console.error('pipe failed:', error),
    );
  });
  server.listen(port, '127.0.0.1', () => {
    let text = '';
    const client = connect(port, '127.0.0.1');
    client.setEncoding('utf8');
    client.on('data', (chunk: string) => (text += chunk));
    client.on('end', () => {
      console.log(`received ${parseNdjson(text).length} records over TCP from 127.0.0.1:${port}`);
      server.close();
    });
  });
}
