import { RawJson } from '../operators/rawJson.js';
import type { Frame } from './socketSink.js';

/**
 * A message serialized already whose drop the outbox reports back: a topic learns this way that
 * a slow socket missed one of its publications. It is coalesced with the connection's other
 * messages like any `RawJson`.
 */
export class ReportedJson extends RawJson {
  /**
   * @param json One line of JSON.
   * @param onDropped Told when the outbox drops it (overflow, close, stop).
   */
  constructor(
    json: string,
    readonly onDropped: () => void,
  ) {
    super(json);
  }
}

/**
 * A frame built once and handed to several outboxes as it is (a topic's publications of one
 * window, gzipped once). It travels alone, never merged with other messages, and counts as the
 * messages it carries.
 */
export class BuiltFrame {
  /**
   * @param data The frame as it goes on the wire.
   * @param messages How many messages it carries.
   * @param compressed Whether `data` is gzipped.
   * @param onDropped Told when the outbox drops it (overflow, close, stop).
   * @param textBytes The UTF-8 size of its text before gzip, when gzipped.
   */
  constructor(
    readonly data: Frame,
    readonly messages: number,
    readonly compressed: boolean,
    readonly onDropped: () => void,
    readonly textBytes?: number,
  ) {}
}

/**
 * Closes the coalescing window it lands in, so that what the window holds goes out at once. It
 * is no message: it counts as none and makes no frame.
 */
export const FLUSH: unique symbol = Symbol('ws-outbox flush');

/** The messages an entry counts as: a built frame's, none for {@link FLUSH}, or one. */
export function messagesIn(entry: unknown): number {
  if (entry instanceof BuiltFrame) return entry.messages;
  return entry === FLUSH ? 0 : 1;
}

/** Tells an entry that reports its drops that it was dropped. */
export function reportDrop(entry: unknown): void {
  if (entry instanceof BuiltFrame || entry instanceof ReportedJson) entry.onDropped();
}
