/**
 * What the socket benchmark's server and client children say to each other on the socket, and
 * what the parent hears from them over IPC.
 */
import type { IpcMessage } from './child.js';

/** The message every arm sends: about 80 bytes of JSON. */
export interface Tick {
  type: 'tick';
  seq: number;
  /** Epoch ms at enqueue on the server (`performance.timeOrigin + performance.now()`). */
  ts: number;
  text: string;
}

export const TICK_TEXT = 'the quick fox';

/** The JSON Schema of a tick, for the arm that serializes with fast-json-stringify. */
export const TICK_SCHEMA = {
  type: 'object',
  properties: {
    type: { type: 'string' },
    seq: { type: 'integer' },
    ts: { type: 'number' },
    text: { type: 'string' },
  },
  required: ['type', 'seq', 'ts', 'text'],
} as const;

/**
 * Control frames on the socket. They start with '#', which no JSON message does, so the client
 * tells them apart from data without parsing. Over socket.io they are event names.
 */
export const CONTROL = {
  /** client → server: ready, start the next phase. */
  go: '#go',
  /** server → client: every message of the phase has been handed over; sent after them. */
  phaseEnd: '#phase-end',
} as const;

export type ArmName =
  | 'naive'
  | 'socket.io'
  | 'floor'
  | 'outbox'
  | 'outbox-nocompress'
  | 'outbox-schema'
  | 'outbox-wait'
  | 'outbox-inline';

/** The arms the issue asks for, run by default. */
export const ARMS: readonly ArmName[] = [
  'naive',
  'socket.io',
  'floor',
  'outbox',
  'outbox-nocompress',
  'outbox-schema',
];

/** Every arm, including the extra ones that `ARMS=…` can select. */
export const ALL_ARMS: readonly ArmName[] = [...ARMS, 'outbox-wait', 'outbox-inline'];

export const ARM_LABELS: Record<ArmName, string> = {
  naive: 'naive `ws.send(JSON.stringify(m))`',
  'socket.io': 'socket.io `emit`',
  floor: 'floor: one `"\\n"`-joined frame per turn',
  outbox: 'WsOutbox, defaults',
  'outbox-nocompress': 'WsOutbox, `compressAbove: false`',
  'outbox-schema': 'WsOutbox, `compressAbove: false`, `schema`',
  'outbox-wait': 'WsOutbox, defaults, producer awaits `whenReady()` between turns',
  'outbox-inline': 'WsOutbox, `compressor: inlineGzipCompressor(256 KiB)`',
};

/** The server child's report, once the client has acknowledged the measured phase. */
export interface ServerResult extends IpcMessage {
  type: 'result';
  produced: number;
  /** Epoch ms of the first enqueue of the measured phase. */
  firstEnqueue: number;
  /** User + system, all threads (the zlib thread pool included). */
  cpuSeconds: number;
  /** The system (kernel) part of `cpuSeconds`: mostly socket writes on loopback. */
  systemSeconds: number;
  rssStart: number;
  rssPeak: number;
  /** `WsOutbox.stats()` after `stop()` resolved, for the outbox arms. */
  outboxStats?: { accepted: number; delivered: number; dropped: number; failed: number };
  /**
   * `ws.bufferedAmount` when `send` first returned false: near the high-water mark means the
   * socket (the client) was behind; near zero means the outbox dropped with the socket idle.
   */
  bufferedAtFirstDrop?: number;
}

/** The client child's report for one phase. */
export interface ClientResult extends IpcMessage {
  type: 'phase';
  phase: number;
  received: number;
  /** Messages whose seq was not greater than the previous one's (duplicates, reordering). */
  outOfOrder: number;
  frames: number;
  /** Payload bytes of the frames received (after compression, before decoding). */
  bytes: number;
  /** Epoch ms when the last data message of the phase arrived. */
  lastReceive: number;
  p50: number;
  p99: number;
  max: number;
  /** The client process's CPU time during the phase. */
  cpuSeconds: number;
}
