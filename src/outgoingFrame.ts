import type { Frame } from './socketSink.js';

/**
 * A frame on its way from an outbox's batch to its socket, with what it must be accounted for
 * once the socket calls back. It travels with the frame through every stage, so nothing has to
 * be matched to frames by position.
 */
export interface OutgoingFrame {
  /** NDJSON text, then, once gzipped, the gzip bytes or their base64 envelope. */
  readonly data: Frame;
  /** Messages the frame carries: counted delivered or failed when its send settles. */
  readonly messages: number;
  /** `performance.now()` when its batch was emitted, for `ws_outbox_send_latency_seconds`. */
  readonly emittedAt: number;
  /** Whether `data` is gzipped, for `ws_outbox_compressed_frames_total`. */
  readonly compressed: boolean;
  /** Built elsewhere and shared (a topic's frame): sent as it is, never gzipped again. */
  readonly built?: boolean;
  /** The UTF-8 size of its NDJSON text before gzip, once gzipped. */
  readonly textBytes?: number;
}
