/** What `bench/cluster.ts` and its node and client children share. */
import type { IpcMessage } from './child.js';

export type ClusterArm = 'ws-outbox' | 'socket.io';
export const CLUSTER_ARMS: readonly ClusterArm[] = ['ws-outbox', 'socket.io'];

/**
 * One publication's data, the same in both arms: the publishing node, the room's index, the
 * node's sequence number in that room, and the epoch ms at which it was published.
 */
export interface ClusterTick {
  n: number;
  r: number;
  s: number;
  t: number;
}

/** The room a subscriber or a publication is in, by index. */
export function roomName(index: number): string {
  return `room:${index}`;
}

/** node → `parent`: the node accepts connections. */
export interface NodeListening extends IpcMessage {
  type: 'listening';
  port: number;
}

/** node → parent, after `stop`: the last sequence number it published per room. */
export interface NodeStopped extends IpcMessage {
  type: 'stopped';
  node: number;
  published: number;
  /** By room index. */
  last: number[];
  publishErrors: number;
}

/** node → parent, on `cpu`: its CPU seconds since the phase's `publish`. */
export interface NodeCpu extends IpcMessage {
  type: 'cpu';
  cpuSeconds: number;
}

/** node → parent, after `appends`: the append throughput with the publisher's coalescing. */
export interface NodeAppends extends IpcMessage {
  type: 'appended';
  count: number;
  seconds: number;
  scriptCalls: number;
  cpuSeconds: number;
}

/**
 * client → parent, after `drain`: what its subscribers received in the phase. A percentile of
 * no sample is NaN, which IPC carries as `null`.
 */
export interface ClientPhase extends IpcMessage {
  type: 'drained';
  received: number;
  p50: number;
  p99: number;
  /** Publications a subscriber never got (holes in a publisher's sequence), all subscribers. */
  missed: number;
  /** Publications a subscriber got twice or out of order. */
  duplicates: number;
  /** Subscribers that reconnected in the phase, and of those, the ones caught up. */
  reconnected: number;
  caughtUp: number;
  /** ms from a reconnect's open to caught up (ws-outbox: the replay done). */
  resumeP50: number;
  resumeP99: number;
  /** Subscribers told `recovered: false`. */
  notRecovered: number;
  timedOut: boolean;
  /** Subscribers that had not caught up, or not got every publication, when it timed out. */
  undrained: number;
}
