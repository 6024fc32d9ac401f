/**
 * The brand every `RawJson` carries. Registered with `Symbol.for`, so that a `RawJson` made by
 * one copy of this package (its ESM build, say) is recognised by another (its CommonJS build, or
 * another version) in the same process.
 */
const RAW_JSON: unique symbol = Symbol.for('ws-outbox.RawJson') as never;

/**
 * A value already serialized to one line of JSON, written into a batch as it is.
 *
 * <span class="informal">Serialize once, send to many: `ConnectionManager.broadcast` and topics
 * hand every outbox the same `RawJson` instead of serializing a message per socket.</span>
 *
 * {@link ndjson} writes a `RawJson`'s text into the batch without serializing it again and
 * without scanning it: the constructor has checked it once. {@link isRawJson} recognises a
 * `RawJson` made by any copy of this package in the process (`instanceof` only this copy's).
 *
 * ## Example
 *
 * ```ts
 * import { RawJson } from 'ws-outbox/operators';
 *
 * const shared = new RawJson(JSON.stringify({ type: 'announcement', text: 'deploy at 5' }));
 * for (const outbox of outboxes) outbox.send(shared);
 * ```
 */
export class RawJson {
  /** @internal The cross-copy brand; see {@link isRawJson}. */
  readonly [RAW_JSON] = true;

  /**
   * @param json One JSON text, with no raw newline in it (`JSON.stringify`'s output is one).
   * @throws {TypeError} When `json` is not a string (`JSON.stringify` returns `undefined` for
   * `undefined`, functions and symbols) or holds a raw newline, which would break NDJSON framing.
   */
  constructor(readonly json: string) {
    if (typeof json !== 'string') {
      throw new TypeError('RawJson: the value is not JSON-serializable');
    }
    if (json.includes('\n')) {
      throw new TypeError(
        'RawJson: the text holds a raw newline, which would break NDJSON framing',
      );
    }
  }
}

/**
 * Whether `value` is a {@link RawJson}, made by this copy of the package or another one.
 *
 * @param value Anything.
 * @returns True for a `RawJson`.
 */
export function isRawJson(value: unknown): value is RawJson {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { [RAW_JSON]?: true })[RAW_JSON] === true
  );
}
