import { Observable } from 'rxjs';
import type { MonoTypeOperatorFunction, OperatorFunction } from 'rxjs';
import { gzip, gzipSync } from 'node:zlib';
import { COMPRESSED_ENVELOPE_PREFIX } from './decodeFrame.js';

/**
 * Gzips one frame. Returns the gzip bytes, or a promise of them when the work runs off the
 * event loop.
 *
 * @param input The frame's UTF-8 bytes.
 * @param level The zlib compression level, -1 to 9.
 */
export type GzipCompressor = (input: Buffer, level: number) => Uint8Array | PromiseLike<Uint8Array>;

/** Options of {@link gzipOver}. */
export interface GzipOverConfig {
  /**
   * zlib compression level, -1 (zlib's default, 6) to 9. Default `1`: on NDJSON frames it
   * compresses about twice as fast as level 6, for output only about 6% larger.
   */
  level?: number;
  /**
   * `'binary'` (default) emits the gzip bytes as a `Uint8Array`, to be sent as a binary frame.
   * `'base64'` emits the text `{"compressed":true,"encoding":"gzip","data":"<base64>"}`,
   * for transports and clients that take text only.
   */
  encoding?: 'binary' | 'base64';
  /** How many frames may be compressing at once. Default `2`. */
  concurrency?: number;
  /**
   * What does the compression. Default: `zlib.gzip`, in libuv's thread pool. Pass
   * {@link gzipSyncCompressor} to make the operator synchronous, e.g. in marble tests.
   */
  compressor?: GzipCompressor;
  /**
   * Called with the UTF-8 bytes of the frames the operator holds (waiting for compression,
   * compressing, or waiting behind one that is) each time that total changes. Give it to the
   * consumer's byte budget, `socketSink`'s `setUpstreamBytes` for one, so that frames queued here
   * count against its high-water mark: then a buffer upstream stops while compression lags,
   * whatever the compressor. A frame's bytes leave the total only after it has been emitted.
   */
  onPending?: (bytes: number) => void;
}

/**
 * A {@link GzipCompressor} built on `zlib.gzipSync`.
 *
 * <span class="informal">Blocks the event loop while it compresses: meant for tests, where it
 * makes {@link gzipOver} fully synchronous so that `TestScheduler` can virtualise a pipeline
 * that contains it.</span>
 *
 * ## Example
 *
 * ```ts
 * import { TestScheduler } from 'rxjs/testing';
 * import { gzipSync } from 'node:zlib';
 * import { gzipOver, gzipSyncCompressor } from 'ws-outbox/operators';
 *
 * const large = 'x'.repeat(100);
 * new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, expectObservable }) => {
 *   const frames = cold('-a-b-|', { a: 'small', b: large });
 *   expectObservable(frames.pipe(gzipOver(10, { compressor: gzipSyncCompressor }))).toBe(
 *     '-a-z-|',
 *     { a: 'small', z: gzipSync(large, { level: 1 }) },
 *   );
 * });
 * ```
 *
 * @param input The frame's UTF-8 bytes.
 * @param level The zlib compression level.
 * @returns The gzip bytes.
 */
export const gzipSyncCompressor: GzipCompressor = (input, level) => gzipSync(input, { level });

const gzipInThreadPool: GzipCompressor = (input, level) =>
  new Promise<Uint8Array>((resolve, reject) => {
    gzip(input, { level }, (error, result) => (error ? reject(error) : resolve(result)));
  });

/**
 * A compressor that gzips frames up to `inlineMaxBytes` on the event loop and larger ones in
 * zlib's thread pool.
 *
 * <span class="informal">For latency under load: a thread-pool round trip costs the frame a
 * whole event-loop iteration, which on a busy server is milliseconds, while level 1 gzips a
 * 40 kB frame inline in about 0.1 ms.</span>
 *
 * The default compressor of {@link gzipOver} never blocks the event loop. This one trades a
 * bounded block (at most `inlineMaxBytes` per frame: about 0.5 ms for 256 KiB at level 1) for
 * a send latency that does not depend on how busy the loop is. Frames over the limit still go
 * to the thread pool.
 *
 * ## Example
 *
 * ```ts
 * frames$.pipe(gzipOver(10_000, { compressor: inlineGzipCompressor(256 * 1024) }));
 * ```
 *
 * @param inlineMaxBytes The largest frame, in bytes, compressed on the event loop.
 * @returns A {@link GzipCompressor}.
 */
export function inlineGzipCompressor(inlineMaxBytes: number): GzipCompressor {
  if (!(inlineMaxBytes >= 0)) {
    throw new RangeError(
      `inlineGzipCompressor: inlineMaxBytes must be >= 0, got ${inlineMaxBytes}`,
    );
  }
  return (input, level) =>
    input.byteLength <= inlineMaxBytes
      ? gzipSyncCompressor(input, level)
      : gzipInThreadPool(input, level);
}

const DEFAULT_LEVEL = 1;
const DEFAULT_CONCURRENCY = 2;

/**
 * Gzips the frames larger than a threshold, off the event loop, and keeps every frame in order.
 *
 * <span class="informal">Like `concatMap` to a compression for large frames and `map(identity)`
 * for small ones, but with several compressions in parallel.</span>
 *
 * A frame whose UTF-8 size is strictly greater than `thresholdBytes` is compressed with gzip at
 * `level`, by default in zlib's thread pool; smaller or equal frames pass unchanged. Up to
 * `concurrency` frames compress at once; results are emitted in source order, so a small frame
 * that follows a large one waits behind it. When nothing is compressing or waiting, a small frame
 * passes through synchronously, with no added latency.
 *
 * With `encoding: 'binary'` a compressed frame is emitted as its gzip bytes; with `'base64'`, as
 * the text `{"compressed":true,"encoding":"gzip","data":"<base64>"}` (keys in that order, so
 * `decodeFrame` can recognise it by {@link COMPRESSED_ENVELOPE_PREFIX}).
 *
 * Frames wait here while they compress, so a buffer upstream that watches only its consumer would
 * keep releasing while compression lags: `onPending` reports the bytes held, for the consumer's
 * budget to count them (`socketSink`'s `setUpstreamBytes`), which bounds the whole pipe.
 *
 * When the source completes, the output completes once every pending frame has been emitted.
 * When the source errors, the output errors at once and pending compressions are discarded. A
 * failed compression errors the output. On unsubscribe, the compressions already in the thread
 * pool cannot be cancelled: they finish, and their results are dropped.
 *
 * ## Example
 *
 * Send frames over 10 kB gzipped, as binary WebSocket frames
 *
 * ```ts
 * import { Subject } from 'rxjs';
 * import { gzipOver } from 'ws-outbox/operators';
 *
 * const frames = new Subject<string>();
 * frames.pipe(gzipOver(10_000)).subscribe((frame) => ws.send(frame));
 * ```
 *
 * ```
 * source:               -a--L--b--------|
 * gzipOver(threshold):  -a---------(zb)-|
 *
 * a, b: frames within the threshold; L: a larger frame, z: its gzip. b waits behind L.
 * ```
 *
 * @param thresholdBytes Frames whose UTF-8 size exceeds this many bytes are compressed.
 * @param config Compression level, output encoding, parallelism and compressor.
 * @returns A function that returns an Observable of the source frames, in order, the large ones
 * gzipped.
 */
export function gzipOver(
  thresholdBytes: number,
  config: GzipOverConfig = {},
): OperatorFunction<string, string | Uint8Array> {
  return gzipInOrder<string | Uint8Array>(thresholdBytes, config, {
    textOf: (frame) => (typeof frame === 'string' ? frame : undefined),
    withOutput: (_frame, output) => output,
  }) as OperatorFunction<string, string | Uint8Array>;
}

/**
 * How {@link gzipInOrder} reads and rewrites the frames it carries.
 * @internal
 */
export interface GzipFrameAccess<F> {
  /** The frame's text, when it may be gzipped; `undefined` for a frame that passes as it is. */
  textOf(frame: F): string | undefined;
  /**
   * The frame as emitted once its text is replaced by the gzip `output`; `textBytes` is the
   * UTF-8 size of the text it replaces.
   */
  withOutput(frame: F, output: string | Uint8Array, textBytes: number): F;
}

/**
 * {@link gzipOver} for frames that carry more than their text (the outbox's frames carry what
 * they must be accounted for): the same ordering, parallelism and `onPending` reports.
 * @internal
 */
export function gzipInOrder<F>(
  thresholdBytes: number,
  config: GzipOverConfig,
  access: GzipFrameAccess<F>,
): MonoTypeOperatorFunction<F> {
  const {
    level = DEFAULT_LEVEL,
    encoding = 'binary',
    concurrency = DEFAULT_CONCURRENCY,
    compressor = gzipInThreadPool,
    onPending,
  } = config;
  if (!Number.isFinite(thresholdBytes) || thresholdBytes < 0) {
    throw new RangeError(
      `gzipOver: thresholdBytes must be a finite number >= 0, got ${thresholdBytes}`,
    );
  }
  if (!Number.isInteger(level) || level < -1 || level > 9) {
    throw new RangeError(`gzipOver: level must be an integer from -1 to 9, got ${level}`);
  }
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`gzipOver: concurrency must be a positive integer, got ${concurrency}`);
  }
  if (encoding !== 'binary' && encoding !== 'base64') {
    throw new RangeError(
      `gzipOver: encoding must be 'binary' or 'base64', got ${String(encoding)}`,
    );
  }
  if (onPending !== undefined && typeof onPending !== 'function') {
    throw new TypeError('gzipOver: `onPending` must be a function');
  }
  const encode =
    encoding === 'binary'
      ? (bytes: Uint8Array) => bytes
      : (bytes: Uint8Array) =>
          COMPRESSED_ENVELOPE_PREFIX +
          Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') +
          '"}';

  return (source) =>
    new Observable<F>((subscriber) => {
      // Every frame not yet emitted, in source order.
      const slots: Slot<F>[] = [];
      // Large frames not yet handed to the compressor, in source order. Only the waiting frames
      // keep their text: once compressing, the slot holds nothing until the result arrives.
      const waiting: PendingCompression<F>[] = [];
      let compressing = 0;
      let sourceComplete = false;
      let draining = false;
      // UTF-8 bytes of the frames in `slots`, and what `onPending` was last told.
      let heldBytes = 0;
      let reportedBytes = 0;
      // Cleared on teardown, so that late compression results are dropped.
      let active = true;

      const fail = (error: unknown) => {
        active = false;
        subscriber.error(error);
      };

      const report = () => {
        if (onPending === undefined || heldBytes === reportedBytes) return;
        reportedBytes = heldBytes;
        onPending(heldBytes);
      };

      const finish = (slot: Slot<F>, frame: F, bytes: Uint8Array) => {
        compressing--;
        slot.output = access.withOutput(frame, encode(bytes), slot.bytes);
      };

      // Returns false when the compression has not finished yet.
      const compress = ({ slot, frame, text }: PendingCompression<F>): boolean => {
        compressing++;
        const result = compressor(Buffer.from(text, 'utf8'), level);
        if (!isPromiseLike(result)) {
          finish(slot, frame, result);
          return true;
        }
        result.then(
          (bytes) => {
            if (!active) return;
            try {
              finish(slot, frame, bytes);
              drain();
            } catch (error) {
              fail(error);
            }
          },
          (error: unknown) => {
            if (active) fail(error);
          },
        );
        return false;
      };

      // Emits the head of the queue while it is ready, and starts compressions as slots free up.
      // Downstream may push into the source from inside `next`: the flag makes that nested call
      // return at once, so the stack stays flat and the outer loop picks up whatever was added.
      const drain = () => {
        if (draining) return;
        draining = true;
        try {
          let progressed = true;
          while (progressed && active) {
            progressed = false;
            while (active && slots.length > 0) {
              const slot = slots[0];
              if (slot.output === undefined) break;
              slots.shift();
              subscriber.next(slot.output);
              // Only now: until the consumer has the frame, its bytes are still held here.
              heldBytes -= slot.bytes;
              progressed = true;
            }
            while (active && compressing < concurrency && waiting.length > 0) {
              if (compress(waiting.shift()!)) progressed = true;
            }
          }
        } finally {
          draining = false;
        }
        if (!active) return;
        if (sourceComplete && slots.length === 0) {
          active = false;
          report();
          subscriber.complete();
          return;
        }
        // Last, and outside the loop: the report may release new frames into this operator.
        report();
      };

      const subscription = source.subscribe({
        next: (frame) => {
          try {
            const text = access.textOf(frame);
            const bytes = text === undefined ? 0 : Buffer.byteLength(text, 'utf8');
            if (text === undefined || bytes <= thresholdBytes) {
              if (slots.length === 0) {
                subscriber.next(frame);
                return;
              }
              slots.push({ output: frame, bytes });
            } else {
              const slot: Slot<F> = { output: undefined, bytes };
              slots.push(slot);
              waiting.push({ slot, frame, text });
            }
            heldBytes += bytes;
            drain();
          } catch (error) {
            fail(error);
          }
        },
        error: (error: unknown) => fail(error),
        complete: () => {
          sourceComplete = true;
          try {
            drain();
          } catch (error) {
            fail(error);
          }
        },
      });

      return () => {
        active = false;
        slots.length = 0;
        waiting.length = 0;
        heldBytes = 0;
        subscription.unsubscribe();
        // Whoever counts these bytes must not go on counting frames that will never come.
        report();
      };
    });
}

/** One source frame, from the moment it arrives until it is emitted. */
interface Slot<F> {
  /** What to emit; unset while the frame waits for, or is in, compression. */
  output: F | undefined;
  /** The UTF-8 size of the frame's text, counted in `onPending`'s total while it is held. */
  readonly bytes: number;
}

/** A large frame not yet handed to the compressor. */
interface PendingCompression<F> {
  readonly slot: Slot<F>;
  readonly frame: F;
  readonly text: string;
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as PromiseLike<T> | null)?.then === 'function';
}
