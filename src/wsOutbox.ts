import type { Registry } from 'prom-client';
import { BehaviorSubject, Observable, Subscription } from 'rxjs';
import type { SchedulerLike, Subscriber } from 'rxjs';
import { boundedBuffer } from '../operators/boundedBuffer.js';
import type { OverflowStrategy } from '../operators/boundedBuffer.js';
import type { GzipCompressor } from '../operators/gzipOver.js';
import { isRawJson } from '../operators/rawJson.js';
import type { RawJson } from '../operators/rawJson.js';
import type { OutboxMetrics } from './metrics.js';
import { CriticalJson, outboxConfig } from './outboxConfig.js';
import type { Entry, OutboxConfig } from './outboxConfig.js';
import { BuiltFrame, FLUSH, messagesIn, reportDrop } from './outboxEntry.js';
import type { ReportedJson } from './outboxEntry.js';
import type { OutgoingFrame } from './outgoingFrame.js';
import { reportUnhandledError } from './reportError.js';
import { socketSink } from './socketSink.js';
import type { SendableSocket, SendResult, SocketSink } from './socketSink.js';

export interface WsOutboxOptions<T> {
  /** Messages held while the socket is not ready. Default 512 (the original design's `OUTBOX_MAX`). */
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
   * How long an outbox keeps its pipeline (its subscribed stages, its sink's listener) once
   * nothing is held, pending or in flight, before releasing it. Steady traffic, such as a
   * topic's frame every window, then reuses one pipeline instead of subscribing one per frame;
   * a connection gone quiet costs only its counts once this has passed. `0` releases it at
   * once: the least memory per connection, the most CPU per frame. Default 1,000.
   */
  releaseAfterMs?: number;
  /**
   * Frames over this many UTF-8 bytes are gzipped; `false` turns compression off. Default 10,000.
   */
  compressAbove?: number | false;
  /** zlib level for compressed frames. Default: `gzipOver`'s (1). */
  compressionLevel?: number;
  /** `'binary'` frames (default) or the base64 JSON envelope for text-only clients. */
  compressionEncoding?: 'binary' | 'base64';
  /**
   * Bytes past the buffer (frames being compressed, and frames inside the socket not yet
   * flushed) at or above which the buffer stops releasing. Default 1 MiB.
   */
  highWaterMark?: number;
  /** A JSON Schema: messages are serialized by fast-json-stringify, compiled once. */
  schema?: object;
  /** A serializer of your own (exclusive with `schema`); it must not emit raw newlines. */
  stringify?: (message: T) => string;
  /** Sees each message that could not be serialized. It is counted as failed either way. */
  onSerializeError?: (error: unknown, message: T) => void;
  /**
   * Sees an error that ended the outbox (a `BufferOverflowError` under `overflow: 'error'`, a
   * failed gzip). Default: rethrown out of band, as RxJS reports an error nobody handles.
   */
  onError?: (error: unknown) => void;
  /** Metrics: a shared set, a registry to register them in, or `false`. Default global registry. */
  metrics?: OutboxMetrics | Registry | false;
  /**
   * Sees every frame once its send has settled: its socket, messages, sizes, latency and
   * outcome. For per-connection figures (the demo's charts) without a metric label per socket.
   */
  onFrameSent?: (report: FrameReport) => void;
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

/** One frame's outcome, for `onFrameSent`. */
export interface FrameReport {
  /** The socket it went to. */
  readonly socket: SendableSocket;
  /** Messages it carried. */
  readonly messages: number;
  /** Its size on the wire. */
  readonly bytes: number;
  /** The UTF-8 size of its NDJSON text: `bytes`, unless it was gzipped. */
  readonly textBytes: number;
  readonly compressed: boolean;
  /** Milliseconds from its batch's emission to the socket's send callback. */
  readonly latencyMs: number;
  /** Set when the socket failed it. */
  readonly error: Error | undefined;
}

/** Options of one `send`. */
export interface SendOptions {
  /**
   * Never dropped by overflow: held beyond `capacity` if the buffer is full. For the few
   * messages a client must see, such as an operation's terminal event. Serialized at once (a
   * failure is counted and `send` returns false). Still dropped if the socket closes or the
   * outbox has ended.
   */
  critical?: boolean;
}

/** What `whenReady()` rejects with once the outbox has ended (its socket closed, or it stopped). */
export class OutboxEndedError extends Error {
  override readonly name = 'OutboxEndedError';

  constructor() {
    super('The outbox has ended: its socket closed, or it was stopped.');
  }
}

/** `WebSocket.OPEN` in `ws` and in browsers. */
const OPEN = 1;

/** The stages of an outbox while traffic flows: subscribed on demand, released once idle. */
interface Pipeline<T> {
  /** Where `send` pushes: the input of the buffer. */
  readonly intake: Subscriber<Entry<T>>;
  readonly sink: SocketSink;
  readonly subscription: Subscription;
  /** A `leading` outbox's deferred release, while its last window may still be open. */
  linger: Subscription | undefined;
}

const isCritical = (entry: unknown): boolean => entry instanceof CriticalJson;

/**
 * A bounded, coalescing, compressing outbox for one WebSocket.
 *
 * <span class="informal">`send(msg)` never blocks and never grows memory without bound: the
 * socket's demand reaches back to the buffer through every stage in between. An idle outbox
 * holds no pipeline at all.</span>
 *
 * The pipeline is `boundedBuffer(capacity) → coalesce(coalesceMs, { maxBatch }) → ndjson() →
 * gzipOver(compressAbove) → socketSink(ws)`. The sink owns the byte budget past the buffer:
 * frames being compressed and frames inside the socket, at most `highWaterMark` bytes before
 * the buffer stops releasing. So memory per connection is bounded by `capacity` messages held,
 * `maxBatch` messages in the pending batch and about `highWaterMark` bytes of frames (plus one
 * frame: the check happens before a send). Each frame carries its own message count and
 * emission time to its send callback, where it is counted.
 *
 * The pipeline exists only while traffic flows: it is subscribed by the first `send` after an
 * idle period and released once nothing is held, pending or in flight, so ten thousand idle
 * connections cost little more than their sockets. While idle, the outbox does not listen to
 * its socket: it notices a close at its next call (the `ConnectionManager` tells it at once).
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
  private readonly config: OutboxConfig<T>;
  private state: 'new' | 'running' | 'stopping' | 'ended' = 'new';
  private accepted = 0;
  private delivered = 0;
  private dropped = 0;
  private failed = 0;
  /** Messages in the buffer, as it last reported: for the queue gauge and `ready`. */
  private held = 0;
  private pipeline: Pipeline<T> | undefined;
  /** Set by the buffer's `onDrop` while `send` pushes: whether that very message was refused. */
  private sendRefused = false;
  /** Only once someone watches `ready$` or awaits `whenReady()`. */
  private readiness: BehaviorSubject<boolean> | undefined;
  private readinessListener: (() => void) | undefined;
  private stopWaiters: Array<(stats: OutboxStats) => void> | undefined;
  private stopTimer: Subscription | undefined;

  /**
   * @param target The socket to send on (a `ws` WebSocket).
   * @param options See {@link WsOutboxOptions}; outboxes given the same options object share
   * what is derived from it (the compiled serializer).
   * @throws {RangeError} On an option out of range.
   */
  constructor(
    private readonly target: SendableSocket,
    options: WsOutboxOptions<T> = {},
  ) {
    this.config = outboxConfig(options);
  }

  /** Messages accepted, delivered, dropped, failed and pending so far. */
  stats(): OutboxStats {
    const { accepted, delivered, dropped, failed } = this;
    return { accepted, delivered, dropped, failed, pending: this.pending };
  }

  /** True while a `send` would pass straight through: nothing held and the socket has demand. */
  get ready(): boolean {
    if (this.state !== 'running' || this.held > 0) return false;
    return this.pipeline ? this.pipeline.sink.ready : this.target.readyState === OPEN;
  }

  /** `ready` as an Observable: the current value, then every change; completes once ended. */
  get ready$(): Observable<boolean> {
    return this.watchReadiness().asObservable();
  }

  /**
   * Resolves when `ready` is next true (at once if it is), for producers that would rather wait.
   * @returns A promise that rejects with {@link OutboxEndedError} once the outbox has ended (or
   * is stopping): a producer loop awaiting it ends instead of hanging.
   */
  whenReady(): Promise<void> {
    this.noticeClose();
    if (this.state !== 'running') return Promise.reject(new OutboxEndedError());
    if (this.ready) return Promise.resolve();
    const readiness = this.watchReadiness();
    return new Promise((resolve, reject) => {
      const subscription = readiness.subscribe({
        next: (ready) => {
          if (!ready) return;
          resolve();
          // Emitted synchronously from inside subscribe: `subscription` is not assigned yet.
          queueMicrotask(() => subscription.unsubscribe());
        },
        complete: () => reject(new OutboxEndedError()),
      });
    });
  }

  /**
   * Makes the outbox accept messages. Call once, before `send`. Nothing is subscribed until
   * the first `send`.
   * @returns This outbox, for chaining.
   */
  start(): this {
    if (this.state !== 'new') throw new Error(`WsOutbox: start() called when ${this.state}`);
    this.state = 'running';
    this.noticeClose();
    return this;
  }

  /**
   * Queues one message.
   * @param message Any JSON-serializable value (or one your `schema`/`stringify` handles), or a
   * `RawJson` serialized already.
   * @param options `critical: true` for a message overflow must never drop.
   * @returns False when the message was dropped (buffer full, or the outbox has ended) or, for a
   * critical one, could not be serialized.
   */
  send(message: T | RawJson, options?: SendOptions): boolean {
    if (this.state === 'new') throw new Error('WsOutbox: call start() before send()');
    if (options?.critical) {
      this.noticeClose();
      if (this.state === 'running') {
        const critical = this.serializeCritical(message);
        return critical !== undefined && this.enqueue(critical);
      }
    }
    return this.enqueue(message);
  }

  /**
   * Queues an entry built elsewhere: a frame shared by several outboxes, or a line whose drop
   * must be reported. Used by topics.
   * @returns False when it was dropped.
   * @internal
   */
  deliver(entry: BuiltFrame | ReportedJson): boolean {
    if (this.state === 'new') throw new Error('WsOutbox: call start() before send()');
    return this.enqueue(entry);
  }

  /**
   * Sends what the coalescing window holds now, as one frame, instead of at its deadline: for
   * the end of a burst whose end is known (a replay, the last page of a result), so that its
   * tail does not wait for the window to close.
   *
   * Does nothing when nothing waits in the window, while the socket is not ready (the buffer
   * then holds what comes, and releases it at the socket's pace), or once the outbox is
   * stopping or has ended.
   */
  flush(): void {
    this.noticeClose();
    const { pipeline } = this;
    if (this.state !== 'running' || !pipeline || this.held > 0 || !pipeline.sink.ready) return;
    pipeline.intake.next(FLUSH);
  }

  /** The socket this outbox sends on. */
  get socket(): SendableSocket {
    return this.target;
  }

  private enqueue(entry: Entry<T>): boolean {
    this.noticeClose();
    this.accepted += messagesIn(entry);
    if (this.state !== 'running') {
      this.drop(entry);
      return false;
    }
    const { intake } = this.pipeline ?? this.activate();
    this.sendRefused = false;
    intake.next(entry);
    return !this.sendRefused;
  }

  /**
   * Completes the input and resolves once every accepted message is delivered, failed or
   * dropped. At `timeoutMs` whatever is still pending is counted as dropped.
   * @param options `timeoutMs` (default 5,000), measured on the outbox's scheduler.
   * @returns The final counts.
   */
  stop({ timeoutMs = 5_000 }: { timeoutMs?: number } = {}): Promise<OutboxStats> {
    if (this.state === 'new') this.state = 'ended';
    this.noticeClose();
    if (this.state === 'ended') return Promise.resolve(this.stats());
    const done = new Promise<OutboxStats>((resolve) => (this.stopWaiters ??= []).push(resolve));
    if (this.state === 'running') {
      this.state = 'stopping';
      this.updateReadiness();
      const pipeline = this.pipeline;
      if (pipeline === undefined || this.pending === 0) {
        this.end();
      } else {
        this.stopTimer = this.config.scheduler.schedule(() => this.end(), timeoutMs);
        pipeline.intake.complete();
      }
    }
    return done;
  }

  private get pending(): number {
    return this.accepted - this.delivered - this.dropped - this.failed;
  }

  /** Subscribes the stages, with a sink of their own; they live until the outbox is idle. */
  private activate(): Pipeline<T> {
    const { config } = this;
    const sink = socketSink(this.target, { highWaterMark: config.highWaterMark });
    let intake!: Subscriber<Entry<T>>;
    const batches = new Observable<Entry<T>>((subscriber) => {
      intake = subscriber;
    }).pipe(
      boundedBuffer<Entry<T>>(config.capacity, {
        ready: sink.ready$,
        overflow: config.overflow,
        onDrop: (entry) => this.onDrop(entry),
        onSize: (size) => this.onHeldChange(size),
        isProtected: isCritical,
      }),
      config.coalesce,
    );
    const serialized = this.serialize(batches);
    const frames = config.compress
      ? serialized.pipe(config.compress(sink.setUpstreamBytes))
      : serialized;
    // A container of its own: the frames completing (on stop) must not stop the sink listening
    // to its socket while their send callbacks are still to come.
    const subscription = new Subscription();
    subscription.add(
      frames.subscribe({
        next: (frame) => sink.send(frame.data, (result) => this.onSettled(frame, result)),
        error: (error: unknown) => this.fail(error),
      }),
    );
    subscription.add(sink.release);
    const pipeline: Pipeline<T> = { intake, sink, subscription, linger: undefined };
    this.pipeline = pipeline;
    subscription.add(sink.closed.subscribe(() => this.end()));
    if (this.readiness) subscription.add(sink.ready$.subscribe(() => this.updateReadiness()));
    return pipeline;
  }

  /**
   * Turns each batch into a frame that carries its own accounting. Values that cannot be
   * serialized are counted failed here and left out; a batch of nothing but those makes no
   * frame.
   */
  private serialize(batches: Observable<Entry<T>[]>): Observable<OutgoingFrame> {
    const { encode } = this.config;
    return new Observable<OutgoingFrame>((subscriber) =>
      batches.subscribe({
        next: (batch) => {
          const built = batch[0];
          // What the window held went out before it, as a batch of its own.
          if (built === FLUSH) return;
          if (built instanceof BuiltFrame) {
            // Alone in its batch (coalesce isolates it): it goes as it is.
            subscriber.next({
              data: built.data,
              messages: built.messages,
              emittedAt: performance.now(),
              compressed: built.compressed,
              built: true,
              textBytes: built.textBytes,
            });
            return;
          }
          let failures = 0;
          let text: string | undefined;
          try {
            text = encode(batch, (error, entry) => {
              failures++;
              this.onSerializeError(error, entry);
            });
          } catch (error) {
            subscriber.error(error);
            return;
          }
          if (text === undefined) {
            this.releaseIfIdle();
            return;
          }
          subscriber.next({
            data: text,
            messages: batch.length - failures,
            emittedAt: performance.now(),
            compressed: false,
          });
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      }),
    );
  }

  private serializeCritical(message: T | RawJson): CriticalJson | undefined {
    const json = this.config.encode([message], (error, entry) =>
      this.onSerializeError(error, entry),
    );
    return json === undefined ? undefined : new CriticalJson(json);
  }

  private onSettled(frame: OutgoingFrame, { bytes, error }: SendResult): void {
    // Once the outbox has ended, what was in flight has already been counted as dropped.
    if (this.state === 'ended') return;
    const { metrics, onFrameSent } = this.config;
    onFrameSent?.({
      socket: this.target,
      messages: frame.messages,
      bytes,
      textBytes: frame.textBytes ?? bytes,
      compressed: frame.compressed,
      latencyMs: performance.now() - frame.emittedAt,
      error,
    });
    if (error) {
      this.failed += frame.messages;
      metrics?.sendErrors.inc();
    } else {
      this.delivered += frame.messages;
      if (metrics) {
        metrics.batchSize.observe(frame.messages);
        metrics.sendLatency.observe((performance.now() - frame.emittedAt) / 1000);
        metrics.messagesSent.inc(frame.messages);
        metrics.framesSent.inc();
        metrics.bytesSent.inc(bytes);
        if (frame.compressed) metrics.compressedFrames.inc();
      }
    }
    this.releaseIfIdle();
  }

  private onSerializeError(error: unknown, entry: Entry<T>): void {
    this.failed++;
    this.config.metrics?.serializeErrors.inc();
    // A RawJson was checked when it was made, so only the application's own values get here.
    if (!isRawJson(entry)) this.config.onSerializeError?.(error, entry as T);
  }

  private onDrop(entry: Entry<T>): void {
    // Under 'drop-oldest' the message being sent is held; an older one made room for it.
    if (this.config.overflow !== 'drop-oldest') this.sendRefused = true;
    this.drop(entry);
  }

  private drop(entry: Entry<T>): void {
    this.countDropped(messagesIn(entry));
    reportDrop(entry);
  }

  private countDropped(messages: number): void {
    this.dropped += messages;
    this.config.metrics?.droppedMessages.inc(messages);
  }

  private onHeldChange(size: number): void {
    this.config.metrics?.queueSize.inc(size - this.held);
    this.held = size;
    this.updateReadiness();
  }

  /** Once nothing is pending: a stopping outbox ends, a running one lets its pipeline go. */
  private releaseIfIdle(): void {
    if (this.pending > 0) return;
    if (this.state === 'stopping') {
      this.end();
      return;
    }
    const pipeline = this.pipeline;
    if (this.state !== 'running' || pipeline === undefined) return;
    const { lingerMs, scheduler } = this.config;
    if (lingerMs === 0) {
      this.releasePipeline();
    } else if (pipeline.linger === undefined) {
      // Steady traffic reuses the pipeline rather than subscribing one per frame, and a leading
      // outbox's window, which may still be open, must coalesce what comes, not send it alone.
      // Released if it is idle when the time is up; if not, the next idle moment starts again.
      const linger = scheduler.schedule(() => {
        pipeline.linger = undefined;
        pipeline.subscription.remove(linger);
        if (this.pipeline === pipeline && this.pending === 0) this.releasePipeline();
      }, lingerMs);
      pipeline.linger = linger;
      pipeline.subscription.add(linger);
    }
  }

  private releasePipeline(): void {
    const pipeline = this.pipeline;
    this.pipeline = undefined;
    // The buffer reports what it still held through onDrop.
    pipeline?.subscription.unsubscribe();
    this.updateReadiness();
  }

  private fail(error: unknown): void {
    this.end();
    (this.config.onError ?? reportUnhandledError)(error);
  }

  /** An idle outbox does not listen to its socket: this is where it learns of a close. */
  private noticeClose(): void {
    if (this.state !== 'ended' && this.state !== 'new' && this.target.readyState > OPEN) {
      this.end();
    }
  }

  private watchReadiness(): BehaviorSubject<boolean> {
    if (this.readiness) return this.readiness;
    this.noticeClose();
    const readiness = new BehaviorSubject(this.ready);
    this.readiness = readiness;
    if (this.state === 'ended') {
      readiness.complete();
      return readiness;
    }
    // Someone waits on readiness: an idle outbox must now hear its socket open or close.
    const listener = () => {
      this.noticeClose();
      this.updateReadiness();
    };
    this.readinessListener = listener;
    this.target.on('open', listener);
    this.target.on('close', listener);
    this.pipeline?.subscription.add(
      this.pipeline.sink.ready$.subscribe(() => this.updateReadiness()),
    );
    return readiness;
  }

  private updateReadiness(): void {
    const readiness = this.readiness;
    if (readiness === undefined || readiness.closed) return;
    const ready = this.ready;
    if (ready !== readiness.value) readiness.next(ready);
  }

  /** Ends the outbox: releases everything and counts what never settled as dropped. */
  private end(): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.releasePipeline();
    const lost = this.pending;
    if (lost > 0) this.countDropped(lost);
    this.stopTimer?.unsubscribe();
    const listener = this.readinessListener;
    if (listener) {
      this.target.off('open', listener);
      this.target.off('close', listener);
    }
    this.updateReadiness();
    this.readiness?.complete();
    const waiters = this.stopWaiters;
    this.stopWaiters = undefined;
    if (waiters) {
      const stats = this.stats();
      for (const resolve of waiters) resolve(stats);
    }
  }
}
