import type { Registry } from 'prom-client';
import {
  asyncScheduler,
  BehaviorSubject,
  identity,
  Observable,
  Subject,
  Subscription,
  tap,
} from 'rxjs';
import type { OperatorFunction, SchedulerLike } from 'rxjs';
import {
  boundedBuffer,
  coalesce,
  COMPRESSED_ENVELOPE_PREFIX,
  gzipOver,
  inlineGzipCompressor,
  ndjson,
} from '../operators/index.js';
import type { GzipCompressor, OverflowStrategy } from '../operators/index.js';
import { resolveMetrics } from './metrics.js';
import type { OutboxMetrics } from './metrics.js';
import { RawJson } from './rawJson.js';
import { createSerializer } from './serializer.js';
import { socketSink } from './socketSink.js';
import type { Frame, SendableSocket, SendResult, SocketSink } from './socketSink.js';

export interface WsOutboxOptions<T> {
  /** Messages held while the socket is not ready. Default 512 (the seed's `OUTBOX_MAX`). */
  capacity?: number;
  /** What to do with a message that finds the buffer full. Default `'drop-newest'`. */
  overflow?: OverflowStrategy;
  /** Coalescing window in ms, opened by the first message after idle. Default 25. */
  coalesceMs?: number;
  /** Most messages in one frame; a full batch goes out at once. Default 512. */
  maxBatch?: number;
  /** Send the first message after idle alone and at once. Default false. */
  leading?: boolean;
  /**
   * Frames over this many UTF-8 bytes are gzipped off the event loop; `false` turns
   * compression off. Default 10,000.
   */
  compressAbove?: number | false;
  /** zlib level for compressed frames. Default: `gzipOver`'s. */
  compressionLevel?: number;
  /** `'binary'` frames (default) or the base64 JSON envelope for text-only clients. */
  compressionEncoding?: 'binary' | 'base64';
  /**
   * Serialized bytes past the batch (frames being compressed, and frames inside the socket
   * not yet flushed) above which the buffer stops releasing. Default 1 MiB.
   */
  highWaterMark?: number;
  /**
   * An extra cap, in messages, on what is past the buffer and not yet settled by a send
   * callback. Default: none (memory is already bounded by `maxBatch` and `highWaterMark`).
   * Send callbacks fire only on a later event-loop turn, so a cap below what one turn
   * produces makes a burst overflow the buffer even when the socket could take it.
   */
  maxInFlight?: number;
  /** A JSON Schema: messages are serialized by fast-json-stringify, compiled once. */
  schema?: object;
  /** A serializer of your own (exclusive with `schema`); it must not emit raw newlines. */
  stringify?: (message: T) => string;
  /** Sees each message that could not be serialized. It is counted as failed either way. */
  onSerializeError?: (error: unknown, message: T) => void;
  /** Sees an error that ended the pipeline (for example `BufferOverflowError`). */
  onError?: (error: unknown) => void;
  /** Metrics: a shared set, a registry to register them in, or `false`. Default global registry. */
  metrics?: OutboxMetrics | Registry | false;
  /** Scheduler for the coalescing window and the stop timeout. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
  /**
   * How frames are gzipped. Default `inlineGzipCompressor(256 KiB)`: frames up to 256 KiB on
   * the event loop, larger ones in zlib's thread pool. For the frames an outbox makes (tens of
   * kB), a thread-pool round trip costs the event loop as much as compressing inline, uses more
   * CPU, and adds an event-loop iteration of latency (docs/benchmarks.md). Pass
   * `gzipSyncCompressor` to run the whole outbox in virtual time.
   */
  compressor?: GzipCompressor;
}

/** Counts of one outbox. `accepted = delivered + dropped + failed + pending`, always. */
export interface OutboxStats {
  /** `send` calls. */
  accepted: number;
  /** Messages in frames whose send callback reported success. */
  delivered: number;
  /** Messages dropped: buffer overflow, socket closed, stopped, or stop timeout. */
  dropped: number;
  /** Messages that could not be serialized, or whose frame failed to send. */
  failed: number;
  /** Messages held or in flight right now (0 once the outbox has ended). */
  pending: number;
}

/** Options of one `send`. */
export interface SendOptions {
  /**
   * Never dropped by overflow: held beyond `capacity` if the buffer is full. For the few
   * messages a client must see, such as an operation's terminal event. Still dropped if the
   * socket closes or the outbox has ended.
   */
  critical?: boolean;
}

type State = 'idle' | 'running' | 'stopping' | 'ended';

const DEFAULT_COMPRESSOR = inlineGzipCompressor(256 * 1024);

/** A message sent with `critical: true`, marked so the buffer never drops it. */
class Critical<T> {
  constructor(readonly message: T | RawJson) {}
}

type Entry<T> = T | RawJson | Critical<T>;
const isCritical = (entry: unknown): boolean => entry instanceof Critical;

/** What the sink needs to account for one frame once its send callback fires. */
interface BatchRecord {
  messages: number;
  failed: number;
  emittedAt: number;
  /** Length of the batch's NDJSON text, counted against the budget until it reaches the socket. */
  textLength: number;
}

/**
 * A bounded, coalescing, compressing outbox for one WebSocket.
 *
 * <span class="informal">`send(msg)` never blocks and never grows memory without bound: the
 * socket's demand reaches back to the buffer through every stage in between.</span>
 *
 * The pipeline is `boundedBuffer(capacity) → coalesce(coalesceMs, { maxBatch }) → ndjson() →
 * gzipOver(compressAbove) → socketSink(ws)`. The buffer releases only while the socket is open
 * and fewer than `highWaterMark` serialized bytes are past the batch (being compressed, or in
 * the socket), so memory per connection is bounded by `capacity` messages held, `maxBatch`
 * messages in the pending batch and about `highWaterMark` bytes of frames.
 *
 * Every accepted message ends as exactly one of delivered, dropped or failed; `stats()` shows
 * the counts, and `stop()` resolves with them once nothing is pending.
 *
 * ## Example
 *
 * ```ts
 * wss.on('connection', (ws) => {
 *   const outbox = new WsOutbox(ws).start();
 *   outbox.send({ type: 'hello' });
 *   ws.on('close', () => outbox.stop());
 * });
 * ```
 */
export class WsOutbox<T = unknown> {
  private readonly input = new Subject<Entry<T>>();
  private readonly sink: SocketSink;
  private readonly metrics: OutboxMetrics | undefined;
  private readonly scheduler: SchedulerLike;
  private readonly highWaterMark: number;
  private readonly maxInFlight: number;
  private readonly capacity: number;
  private readonly stringify: (entry: Entry<T>) => string;
  /** Demand as `boundedBuffer` sees it: socket open, bytes compressing + in the socket under budget. */
  private readonly demand = new BehaviorSubject(true);
  /** Whether a `send` now would pass straight through, for producers that wait. */
  private readonly writable = new BehaviorSubject(true);
  private readonly subscription = new Subscription();
  /** Batches serialized or compressing, oldest first; each frame settles the oldest. */
  private readonly batches: BatchRecord[] = [];
  private state: State = 'idle';
  private held = 0;
  /** Messages past the buffer, not yet settled: for the accounting, not the demand. */
  private inFlight = 0;
  /** Text bytes of frames serialized and not yet handed to the socket (being compressed). */
  private compressingBytes = 0;
  private sendRejected = false;
  private pipelineDone = false;
  private readonly counts = { accepted: 0, delivered: 0, dropped: 0, failed: 0 };
  private stopWaiters: Array<(stats: OutboxStats) => void> = [];

  /**
   * @param socket The socket to send on (a `ws` WebSocket).
   * @param options See {@link WsOutboxOptions}; defaults are the seed's.
   */
  constructor(
    socket: SendableSocket,
    private readonly options: WsOutboxOptions<T> = {},
  ) {
    this.stringify = this.createStringify();
    this.capacity = options.capacity ?? 512;
    this.highWaterMark = options.highWaterMark ?? 1024 * 1024;
    this.maxInFlight = options.maxInFlight ?? Infinity;
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.sink = socketSink(socket, { highWaterMark: this.highWaterMark });
    this.metrics = resolveMetrics(options.metrics);
  }

  /** Messages accepted, delivered, dropped, failed and pending so far. */
  stats(): OutboxStats {
    return { ...this.counts, pending: this.held + this.inFlight };
  }

  /** True while a `send` would pass straight through: nothing held and the socket has demand. */
  get ready(): boolean {
    return this.writable.value;
  }

  /** `ready` as an Observable: replays the current value, then every change. */
  get ready$(): Observable<boolean> {
    return this.writable.asObservable();
  }

  /** Resolves when `ready` is next true (at once if it is), for producers that would rather wait. */
  whenReady(): Promise<void> {
    if (this.writable.value) return Promise.resolve();
    return new Promise((resolve) => {
      const subscription = this.writable.subscribe((ready) => {
        if (!ready) return;
        resolve();
        queueMicrotask(() => subscription.unsubscribe());
      });
    });
  }

  /**
   * Subscribes the pipeline to the socket. Call once, before `send`.
   * @returns This outbox, for chaining.
   */
  start(): this {
    if (this.state !== 'idle') throw new Error(`WsOutbox: start() called when ${this.state}`);
    this.state = 'running';
    const o = this.options;
    const compress: OperatorFunction<string, Frame> =
      o.compressAbove === false
        ? identity
        : gzipOver(o.compressAbove ?? 10_000, {
            level: o.compressionLevel,
            encoding: o.compressionEncoding,
            compressor: o.compressor ?? DEFAULT_COMPRESSOR,
          });
    const frames = this.input.pipe(
      boundedBuffer<Entry<T>>(this.capacity, {
        ready: this.demand,
        overflow: o.overflow,
        onDrop: () => this.onDrop(),
        onSize: (size) => this.onHeldChange(size),
        isProtected: isCritical,
      }),
      tap(() => {
        this.inFlight++;
        this.updateDemand();
      }),
      coalesce<Entry<T>>(o.coalesceMs ?? 25, {
        maxBatch: o.maxBatch ?? 512,
        leading: o.leading,
        scheduler: this.scheduler,
      }),
      this.serializeBatches(),
      tap((text) => {
        // ndjson is synchronous: the text belongs to the batch recorded last.
        this.batches[this.batches.length - 1].textLength = text.length;
        // No demand update here: the frame has not reached the socket yet (see serializeBatches).
        this.compressingBytes += text.length;
      }),
      compress,
    );
    this.subscription.add(
      frames.subscribe({
        next: (frame) => this.sendFrame(frame),
        error: (error: unknown) => {
          this.options.onError?.(error);
          this.end();
        },
        complete: () => {
          this.pipelineDone = true;
          this.settleStopIfDone();
        },
      }),
    );
    this.subscription.add(this.sink.closed.subscribe(() => this.end()));
    return this;
  }

  /**
   * Queues one message.
   * @param message Any JSON-serializable value (or one your `schema`/`stringify` handles).
   * @param options `critical: true` for a message overflow must never drop.
   * @returns False when the message was dropped (buffer full, or the outbox has ended).
   */
  send(message: T | RawJson, options?: SendOptions): boolean {
    if (this.state === 'idle') throw new Error('WsOutbox: call start() before send()');
    this.counts.accepted++;
    if (this.state !== 'running') {
      this.countDropped(1);
      return false;
    }
    this.sendRejected = false;
    this.input.next(options?.critical ? new Critical<T>(message) : message);
    return !this.sendRejected;
  }

  /**
   * Completes the input and resolves once every accepted message is delivered, failed or
   * dropped. At `timeoutMs` whatever is still pending is counted as dropped.
   * @param options `timeoutMs` (default 5,000), measured on the outbox's scheduler.
   * @returns The final counts.
   */
  stop({ timeoutMs = 5_000 }: { timeoutMs?: number } = {}): Promise<OutboxStats> {
    if (this.state === 'idle') this.state = 'ended';
    if (this.state === 'ended') return Promise.resolve(this.stats());
    const done = new Promise<OutboxStats>((resolve) => this.stopWaiters.push(resolve));
    if (this.state === 'running') {
      this.state = 'stopping';
      this.subscription.add(this.scheduler.schedule(() => this.end(), timeoutMs));
      this.input.complete();
      this.settleStopIfDone();
    }
    return done;
  }

  /**
   * `ndjson`, with each batch recorded for the accounting, and the demand updated only once a
   * batch is fully serialized: a failure that frees room must not release new messages into
   * the middle of this batch, or a later batch's frame would overtake this one.
   */
  private serializeBatches(): OperatorFunction<Entry<T>[], string> {
    return (batches) =>
      new Observable<string>((subscriber) => {
        const input = new Subject<Entry<T>[]>();
        const subscription = input
          .pipe(
            ndjson<Entry<T>>({
              stringify: this.stringify,
              onError: (error, entry) => this.onSerializeError(error, entry),
            }),
          )
          .subscribe(subscriber);
        subscription.add(
          batches.subscribe({
            next: (batch) => {
              this.batches.push({
                messages: batch.length,
                failed: 0,
                emittedAt: performance.now(),
                textLength: 0,
              });
              input.next(batch);
              this.updateDemand();
            },
            error: (error: unknown) => input.error(error),
            complete: () => input.complete(),
          }),
        );
        return subscription;
      });
  }

  private createStringify(): (entry: Entry<T>) => string {
    const serialize = createSerializer(this.options);
    const stringify = (entry: Entry<T>): string =>
      entry instanceof RawJson
        ? entry.json
        : entry instanceof Critical
          ? stringify(entry.message)
          : serialize(entry);
    return stringify;
  }

  private sendFrame(frame: Frame): void {
    const batch = this.batches.shift();
    if (!batch) throw new Error('WsOutbox: a frame arrived with no batch to account it to');
    const messages = batch.messages - batch.failed;
    this.compressingBytes -= batch.textLength;
    const compressed = typeof frame !== 'string' || frame.startsWith(COMPRESSED_ENVELOPE_PREFIX);
    this.sink.send(frame, (result) => this.onSettled(messages, compressed, batch, result));
    this.updateDemand();
  }

  private onSettled(
    messages: number,
    compressed: boolean,
    batch: BatchRecord,
    { bytes, error }: SendResult,
  ): void {
    // Once the outbox has ended, what was in flight has already been counted as dropped.
    if (this.state === 'ended') return;
    this.inFlight -= messages;
    const metrics = this.metrics;
    if (error) {
      this.counts.failed += messages;
      metrics?.sendErrors.inc();
    } else {
      this.counts.delivered += messages;
      if (metrics) {
        metrics.batchSize.observe(messages);
        metrics.sendLatency.observe((performance.now() - batch.emittedAt) / 1000);
        metrics.messagesSent.inc(messages);
        metrics.framesSent.inc();
        metrics.bytesSent.inc(bytes);
        if (compressed) metrics.compressedFrames.inc();
      }
    }
    this.updateDemand();
    this.settleStopIfDone();
  }

  private onSerializeError(error: unknown, entry: Entry<T>): void {
    const message = entry instanceof Critical ? entry.message : entry;
    this.counts.failed++;
    this.inFlight--;
    this.metrics?.serializeErrors.inc();
    // ndjson is synchronous, so the batch being serialized is the newest one recorded.
    const batch = this.batches[this.batches.length - 1];
    batch.failed++;
    // A batch with nothing left to send yields no frame: forget it so frames and batches stay paired.
    if (batch.failed === batch.messages) this.batches.pop();
    if (!(message instanceof RawJson)) this.options.onSerializeError?.(error, message);
  }

  private onDrop(): void {
    // Under 'drop-oldest' the message being sent is held; an older one made room for it.
    if (this.options.overflow !== 'drop-oldest') this.sendRejected = true;
    this.countDropped(1);
  }

  private countDropped(messages: number): void {
    this.counts.dropped += messages;
    this.metrics?.droppedMessages.inc(messages);
  }

  private onHeldChange(size: number): void {
    this.metrics?.queueSize.inc(size - this.held);
    this.held = size;
    this.updateWritable();
  }

  private updateDemand(): void {
    // The pending batch is bounded by maxBatch on its own; everything after it is bytes.
    const demand =
      this.sink.isOpen &&
      this.compressingBytes + this.sink.pendingBytes < this.highWaterMark &&
      this.inFlight < this.maxInFlight;
    if (demand !== this.demand.value) this.demand.next(demand);
    this.updateWritable();
  }

  private updateWritable(): void {
    const writable = this.state === 'running' && this.held === 0 && this.demand.value;
    if (writable !== this.writable.value) this.writable.next(writable);
  }

  private settleStopIfDone(): void {
    if (this.state === 'stopping' && this.pipelineDone && this.inFlight === 0) this.end();
  }

  /** Ends the outbox: releases everything and counts what never settled as dropped. */
  private end(): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    // Unsubscribing makes boundedBuffer report what it held through onDrop (counted there).
    this.subscription.unsubscribe();
    this.sink.release();
    if (this.inFlight > 0) this.countDropped(this.inFlight);
    this.inFlight = 0;
    this.compressingBytes = 0;
    this.batches.length = 0;
    this.updateDemand();
    const stats = this.stats();
    const waiters = this.stopWaiters;
    this.stopWaiters = [];
    for (const resolve of waiters) resolve(stats);
  }
}
