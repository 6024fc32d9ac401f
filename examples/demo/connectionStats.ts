import type { FrameReport, OutboxStats } from '../../src/index.js';

/** Latencies kept per interval to take the p95 from: a uniform sample beyond that. */
export const LATENCY_SAMPLES = 1_024;

/**
 * One connection's figures over the last interval, as published on its stats topic. Rates are
 * per second; `total*` since the connection opened.
 */
export interface ConnectionFigures {
  readonly type: 'stats';
  /** The node the connection is on. */
  readonly node: string;
  /** The connection's number on that node: a reconnect starts new totals. */
  readonly connection: number;
  /** When the interval ended (ms since the epoch). */
  readonly t: number;
  readonly intervalMs: number;
  /** Messages given to the connection's outbox per second (a topic publication counts one). */
  readonly messagesIn: number;
  /** Frames the socket took per second. */
  readonly framesOut: number;
  /** Messages in those frames per second. */
  readonly messagesOut: number;
  /** Messages held or in flight in the outbox at the end of the interval. */
  readonly queue: number;
  /** Messages the outbox dropped during the interval (overflow: a slow reader). */
  readonly drops: number;
  /** The 95th percentile of the frames' send latency (batch emitted → socket done), ms; null without frames. */
  readonly latencyP95Ms: number | null;
  /** Bytes of NDJSON text per second, before gzip. */
  readonly textBytes: number;
  /** Bytes on the wire per second, after gzip. */
  readonly wireBytes: number;
  /** Gzipped frames per second. */
  readonly gzipFrames: number;
  readonly totalMessagesIn: number;
  readonly totalFramesOut: number;
  readonly totalDrops: number;
  readonly totalTextBytes: number;
  readonly totalWireBytes: number;
}

/** The part of an outbox a meter reads. */
export interface MeteredOutbox {
  stats(): OutboxStats;
}

/**
 * Counts what one connection's outbox does, from `onFrameSent` reports and its `stats()`, and
 * turns it into {@link ConnectionFigures} once per interval. Bounded: a few counters and at most
 * {@link LATENCY_SAMPLES} latencies, whatever the traffic.
 */
export class ConnectionMeter {
  private frames = 0;
  private framedMessages = 0;
  private textBytes = 0;
  private wireBytes = 0;
  private gzipFrames = 0;
  private latencies: number[] = [];
  private latenciesSeen = 0;
  private last: OutboxStats;
  private lastAt: number;
  private readonly totals = { frames: 0, textBytes: 0, wireBytes: 0 };

  constructor(
    private readonly outbox: MeteredOutbox,
    private readonly node: string,
    private readonly connection: number,
    now: number,
    private readonly random: () => number = Math.random,
  ) {
    this.last = outbox.stats();
    this.lastAt = now;
  }

  /** One frame of this connection settled. */
  frame(report: FrameReport): void {
    if (report.error) return;
    this.frames++;
    this.framedMessages += report.messages;
    this.textBytes += report.textBytes;
    this.wireBytes += report.bytes;
    if (report.compressed) this.gzipFrames++;
    // Reservoir sampling: every latency of the interval equally likely to be kept.
    const seen = ++this.latenciesSeen;
    if (this.latencies.length < LATENCY_SAMPLES) this.latencies.push(report.latencyMs);
    else {
      const slot = Math.floor(this.random() * seen);
      if (slot < LATENCY_SAMPLES) this.latencies[slot] = report.latencyMs;
    }
  }

  /** The figures since the last call, and starts a new interval. */
  sample(now: number, wallClock: number): ConnectionFigures {
    const stats = this.outbox.stats();
    const intervalMs = Math.max(1, now - this.lastAt);
    const perSecond = (n: number) => Math.round((n * 1000) / intervalMs);
    const drops = stats.dropped - this.last.dropped;
    this.totals.frames += this.frames;
    this.totals.textBytes += this.textBytes;
    this.totals.wireBytes += this.wireBytes;
    const figures: ConnectionFigures = {
      type: 'stats',
      node: this.node,
      connection: this.connection,
      t: wallClock,
      intervalMs: Math.round(intervalMs),
      messagesIn: perSecond(stats.accepted - this.last.accepted),
      framesOut: perSecond(this.frames),
      messagesOut: perSecond(this.framedMessages),
      queue: stats.pending,
      drops,
      latencyP95Ms: percentile(this.latencies, 0.95),
      textBytes: perSecond(this.textBytes),
      wireBytes: perSecond(this.wireBytes),
      gzipFrames: perSecond(this.gzipFrames),
      totalMessagesIn: stats.accepted,
      totalFramesOut: this.totals.frames,
      totalDrops: stats.dropped,
      totalTextBytes: this.totals.textBytes,
      totalWireBytes: this.totals.wireBytes,
    };
    this.last = stats;
    this.lastAt = now;
    this.frames = this.framedMessages = this.textBytes = this.wireBytes = this.gzipFrames = 0;
    this.latencies = [];
    this.latenciesSeen = 0;
    return figures;
  }
}

/** The `q` quantile of `values` (nearest rank), rounded to 0.1 ms; null when empty. */
export function percentile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return Math.round(sorted[rank] * 10) / 10;
}
