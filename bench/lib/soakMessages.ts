/** What the soak's server and client children share: the message, an order check, IPC shapes. */
import type { IpcMessage } from './child.js';

export interface SoakMessage {
  type: 'tick';
  seq: number;
  ts: number;
  text: string;
}

const LETTERS = 'etaoinshrdlucmfwypvbgkjqxz';

/**
 * A message of about 1 KiB whose text is built afresh for each seq, as an application's would
 * be: a shared string would make held messages look cheaper on the heap than they are. The words
 * are pseudo-random letters, so gzip shrinks frames about 2× rather than the 10× of repetitive
 * JSON: the kernel's socket buffers then absorb fewer messages and the outbox has more to hold.
 */
export function soakMessage(seq: number): SoakMessage {
  // Codes then one join: `+=` would build a rope of a thousand pieces, far larger than 1 KiB.
  const codes: number[] = [];
  let state = (seq * 2654435761) >>> 0 || 1;
  while (codes.length < 960) {
    // xorshift32: cheap and deterministic.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const r = state >>> 0;
    const length = 3 + (r % 6);
    for (let i = 0; i < length; i++) codes.push(LETTERS.charCodeAt((r >>> (3 + i * 3)) % 26));
    codes.push(32);
  }
  return { type: 'tick', seq, ts: Date.now(), text: String.fromCharCode(...codes) };
}

/** An order-sensitive fold of a sequence of seqs: equal values mean equal sequences (almost surely). */
export class SeqHash {
  count = 0;
  value = 0x811c9dc5;

  add(seq: number): void {
    this.count++;
    this.value = (Math.imul(this.value ^ seq, 0x01000193) + this.count) >>> 0;
  }
}

export interface MemorySnapshot {
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  rss: number;
}

export interface SoakPauseEnd extends IpcMessage {
  type: 'pause-end';
  produced: number;
  /** After a forced GC, just before the producer starts. */
  before: MemorySnapshot;
  /** After a forced GC, once the producer has stopped (the client is still paused). */
  after: MemorySnapshot;
  /** Highest heapUsed + external sampled once a second during the pause, without GC. */
  peakUnsettled: number;
  rssPeak: number;
  bufferedAmount: number;
  statsAtPauseEnd?: { accepted: number; delivered: number; dropped: number; pending: number };
}

export interface SoakResult extends IpcMessage {
  type: 'result';
  /** Messages the server expects the client to receive (for the outbox: those `send` accepted). */
  kept: number;
  keptHash: number;
  /** `send` calls that returned false. */
  refused: number;
  finalStats?: { accepted: number; delivered: number; dropped: number; failed: number };
}

export interface SoakClientResult extends IpcMessage {
  type: 'received';
  received: number;
  receivedHash: number;
  outOfOrder: number;
  frames: number;
  bytes: number;
}
