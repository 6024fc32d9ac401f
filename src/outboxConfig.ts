import { asyncScheduler } from 'rxjs';
import type { MonoTypeOperatorFunction, OperatorFunction, SchedulerLike } from 'rxjs';
import { boundedBuffer } from '../operators/boundedBuffer.js';
import type { OverflowStrategy } from '../operators/boundedBuffer.js';
import { coalesce } from '../operators/coalesce.js';
import { gzipInOrder, inlineGzipCompressor } from '../operators/gzipOver.js';
import type { GzipOverConfig } from '../operators/gzipOver.js';
import { ndjsonEncoder } from '../operators/ndjson.js';
import type { BatchEncoder } from '../operators/ndjson.js';
import { RawJson } from '../operators/rawJson.js';
import { resolveMetrics } from './metrics.js';
import type { OutboxMetrics } from './metrics.js';
import { BuiltFrame, FLUSH } from './outboxEntry.js';
import type { OutgoingFrame } from './outgoingFrame.js';
import type { FrameReport, WsOutboxOptions } from './wsOutbox.js';

/** A message sent with `critical: true`: serialized at once, and never dropped by overflow. */
export class CriticalJson extends RawJson {}

/** What travels through an outbox's buffer and batches. */
export type Entry<T> = T | RawJson | BuiltFrame | typeof FLUSH;

/**
 * Everything an outbox derives from its options, built once per options object and shared by
 * every outbox given the same object (all of a `ConnectionManager`'s): the serializer is
 * compiled once, and an outbox itself holds only its socket, its counts and, while traffic
 * flows, its pipeline.
 */
export interface OutboxConfig<T> {
  readonly capacity: number;
  readonly overflow: OverflowStrategy;
  readonly highWaterMark: number;
  readonly scheduler: SchedulerLike;
  readonly coalesceMs: number;
  readonly maxBatch: number;
  /** Frames over this many UTF-8 bytes are gzipped, with `gzip`; `false`: never. */
  readonly compressAbove: number | false;
  readonly gzip: GzipOverConfig;
  /** Shared by every pipeline: `coalesce` keeps its state per subscription. */
  readonly coalesce: OperatorFunction<Entry<T>, Entry<T>[]>;
  /** How long an outbox keeps its pipeline once idle (`releaseAfterMs`, at least a `leading` window). */
  readonly lingerMs: number;
  /** Serializes a batch of messages (never a batch holding a `BuiltFrame`: those travel alone). */
  readonly encode: BatchEncoder<Entry<T>>;
  /** The gzip stage of one pipeline, counting what it holds against that pipeline's budget. */
  readonly compress:
    ((onPending: (bytes: number) => void) => MonoTypeOperatorFunction<OutgoingFrame>) | undefined;
  readonly metrics: OutboxMetrics | undefined;
  readonly onSerializeError: ((error: unknown, message: T) => void) | undefined;
  readonly onError: ((error: unknown) => void) | undefined;
  readonly onFrameSent: ((report: FrameReport) => void) | undefined;
}

const DEFAULT_COMPRESSOR = inlineGzipCompressor(256 * 1024);

const configs = new WeakMap<object, OutboxConfig<unknown>>();

/**
 * The config of `options`, built on first use and then shared.
 * @throws {RangeError} or {TypeError} on an option out of range, at once rather than at the
 * first send.
 */
export function outboxConfig<T>(options: WsOutboxOptions<T>): OutboxConfig<T> {
  let config = configs.get(options) as OutboxConfig<T> | undefined;
  if (config === undefined) {
    config = buildConfig(options);
    configs.set(options, config as OutboxConfig<unknown>);
  }
  return config;
}

/**
 * How long an idle outbox keeps its pipeline by default: long enough that steady traffic (a
 * topic's frame every window) does not subscribe it again for every frame, short enough that a
 * connection gone quiet soon costs only its counts.
 */
const DEFAULT_RELEASE_AFTER_MS = 1_000;

function buildConfig<T>(options: WsOutboxOptions<T>): OutboxConfig<T> {
  const capacity = options.capacity ?? 512;
  const overflow = options.overflow ?? 'drop-newest';
  const highWaterMark = options.highWaterMark ?? 1024 * 1024;
  const coalesceMs = options.coalesceMs ?? 25;
  const releaseAfterMs = options.releaseAfterMs ?? DEFAULT_RELEASE_AFTER_MS;
  const scheduler = options.scheduler ?? asyncScheduler;
  if (!(releaseAfterMs >= 0 && Number.isFinite(releaseAfterMs))) {
    throw new RangeError(
      `WsOutbox: releaseAfterMs must be a finite number >= 0, got ${releaseAfterMs}`,
    );
  }
  if (!(highWaterMark > 0)) {
    throw new RangeError(`WsOutbox: highWaterMark must be > 0 bytes, got ${highWaterMark}`);
  }
  // Built once here so that a bad capacity or overflow throws now.
  boundedBuffer(capacity, { overflow });
  const compressAbove = options.compressAbove ?? 10_000;
  const maxBatch = options.maxBatch ?? 512;
  const gzip: GzipOverConfig = {
    level: options.compressionLevel,
    encoding: options.compressionEncoding,
    compressor: options.compressor ?? DEFAULT_COMPRESSOR,
  };
  const compress =
    compressAbove === false
      ? undefined
      : (onPending: (bytes: number) => void) =>
          gzipInOrder(compressAbove, { ...gzip, onPending }, FRAME_ACCESS);
  compress?.(() => {});
  return {
    capacity,
    overflow,
    highWaterMark,
    scheduler,
    coalesceMs,
    maxBatch,
    compressAbove,
    gzip,
    coalesce: coalesce<Entry<T>>(coalesceMs, {
      maxBatch,
      leading: options.leading,
      scheduler,
      isolate: travelsAlone,
    }),
    // A leading outbox's window may still be open when it goes idle: its pipeline outlives it.
    lingerMs: options.leading ? Math.max(releaseAfterMs, coalesceMs) : releaseAfterMs,
    encode: ndjsonEncoder<Entry<T>>({
      schema: options.schema,
      stringify: options.stringify as ((message: Entry<T>) => string) | undefined,
    }),
    compress,
    metrics: resolveMetrics(options.metrics),
    onSerializeError: options.onSerializeError,
    onError: options.onError,
    onFrameSent: options.onFrameSent,
  };
}

/** A built frame goes as it is; a flush closes the window before it. */
const travelsAlone = (entry: unknown): boolean => entry instanceof BuiltFrame || entry === FLUSH;

const FRAME_ACCESS = {
  // A frame built elsewhere is final: gzipped already, or meant to go as it is.
  textOf: (frame: OutgoingFrame) =>
    typeof frame.data === 'string' && !frame.built ? frame.data : undefined,
  withOutput: (
    frame: OutgoingFrame,
    data: string | Uint8Array,
    textBytes: number,
  ): OutgoingFrame => ({
    ...frame,
    data,
    compressed: true,
    textBytes,
  }),
};
