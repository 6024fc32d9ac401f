/**
 * A message already serialized to one line of JSON.
 *
 * `ConnectionManager.broadcast` serializes a message once and hands every outbox the same
 * `RawJson`; the outbox writes its text into the batch as is instead of serializing it again.
 */
export class RawJson {
  /** @param json One JSON value, with no raw newline in it. */
  constructor(readonly json: string) {
    // JSON.stringify returns undefined for undefined, functions and symbols.
    if (typeof json !== 'string')
      throw new TypeError('RawJson: the value is not JSON-serializable');
    if (json.includes('\n')) {
      throw new TypeError(
        'RawJson: the text holds a raw newline, which would break NDJSON framing',
      );
    }
  }
}
