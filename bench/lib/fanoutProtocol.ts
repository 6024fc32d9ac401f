/**
 * What the fan-out benchmark's parent, server child and client child share: the arms, the
 * publication, and the reports they exchange over IPC.
 */
import type { IpcMessage } from './child.js';

/** How the server fans a publication out to the sockets of its topic. */
export type FanoutArm = 'naive' | 'socket.io' | 'ws-outbox';
export const FANOUT_ARMS: readonly FanoutArm[] = ['naive', 'socket.io', 'ws-outbox'];

export const FANOUT_LABELS: Record<FanoutArm, string> = {
  naive: 'naive loop: `JSON.stringify` once, `ws.send` to each subscriber',
  'socket.io': 'socket.io 4 `io.to(room).emit`',
  'ws-outbox': 'ws-outbox topics: `manager.publish(topic, data)`',
};

/** What every arm publishes: about 80 bytes of JSON. */
export interface FanoutData {
  /** Per topic, from 0, no holes. */
  seq: number;
  /** Epoch ms when it was due to be published (`performance.timeOrigin`-based, as `epochMs()`). */
  ts: number;
  /** 1 in the measured window, 0 in the warm-up. */
  m: 0 | 1;
  text: string;
}

export const FANOUT_TEXT = 'the quick brown fox jumps';

/** The topic names a scenario uses: `bench:0`, `bench:1` … */
export function topicName(index: number): string {
  return `bench:${index}`;
}

/** One fan-out scenario: `topics` topics, each with its own `subscribers` sockets. */
export interface Scenario {
  readonly name: string;
  readonly topics: number;
  /** Sockets per topic; every socket is in exactly one topic. */
  readonly subscribers: number;
  /** Publications per second, per topic. */
  readonly ratePerTopic: number;
}

/** The server child's answer to `start`, once its measured window has been published. */
export interface Published extends IpcMessage {
  type: 'published';
  /** Publications of the measured window, per topic. */
  perTopic: number[];
}

/** The server child's report, once the parent says the client is done. */
export interface FanoutServerResult extends IpcMessage {
  type: 'result';
  /** User + system CPU of the server process, from the first measured publication to `stop`. */
  cpuSeconds: number;
  systemSeconds: number;
  /** Wall time of the CPU reading, s: from the window's first publication to `stop`. */
  windowSeconds: number;
  /** Wall time of the measured publishing, s. */
  publishSeconds: number;
  /** The largest delay of a publishing tick behind its schedule, ms: the server falling behind. */
  maxTickLagMs: number;
  /** ws-outbox only: its metrics' counters over the measured window (frames, drops, gaps). */
  counters?: Record<string, number>;
}

/** The client child's report of the measured window. */
export interface FanoutClientResult extends IpcMessage {
  type: 'delivered';
  delivered: number;
  expected: number;
  /** Sockets that got fewer publications of the window than their topic's count. */
  socketsShort: number;
  /** Publications that came with a seq not greater than the last one of their socket. */
  outOfOrder: number;
  p50: number;
  p99: number;
  max: number;
  /** The client process's CPU from the window's first publication received to the report, s. */
  cpuSeconds: number;
  /** From the window's first publication received to the report, s. */
  receiveSeconds: number;
}

/** The resume client's report: one latency per repetition. */
export interface ResumeResult extends IpcMessage {
  type: 'resumed';
  /** ms from the reconnect's start (after the backoff) to the last missed publication received. */
  latencies: number[];
  /** ms from the reconnect's start to the server's `subscribed` (connected, and resubscribed). */
  answered: number[];
  /** Repetitions where the publications after the reconnect were not exactly the missed ones. */
  wrong: number;
  /** `recovered: false` seen (there should be none). */
  notRecovered: number;
}
