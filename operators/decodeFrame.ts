import { concatMap, from, of, type OperatorFunction } from 'rxjs';
import { gunzip } from 'node:zlib';

/**
 * How every base64 gzip envelope that `gzipOver(…, { encoding: 'base64' })` emits begins.
 *
 * <span class="informal">The envelope is `{"compressed":true,"encoding":"gzip","data":"<base64>"}`,
 * keys always in that order, so a decoder recognises it with `startsWith` instead of parsing
 * every text frame.</span>
 *
 * ## Example
 *
 * Decode only the text frames that need it
 *
 * ```ts
 * import { COMPRESSED_ENVELOPE_PREFIX, decodeFrame } from 'ws-outbox/operators';
 *
 * async function onText(text: string): Promise<string> {
 *   return text.startsWith(COMPRESSED_ENVELOPE_PREFIX) ? decodeFrame(text) : text;
 * }
 * ```
 *
 * @see {@link gzipOver}
 * @see {@link decodeFrame}
 */
export const COMPRESSED_ENVELOPE_PREFIX = '{"compressed":true,"encoding":"gzip","data":"';

const ENVELOPE_SUFFIX = '"}';
// Every gzip member starts with the bytes 1f 8b 08 (magic, deflate), which base64 spells "H4sI".
const BASE64_GZIP_MAGIC = 'H4sI';
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** A text frame, or what `ws` hands a `'message'` listener for a binary one (per `binaryType`). */
type Frame = string | Uint8Array | ArrayBuffer | Buffer[];

/**
 * Turns one frame that {@link gzipOver} may have compressed back into its text.
 *
 * <span class="informal">Binary frames and base64 envelopes are gunzipped off the event loop;
 * any other text comes back as it is.</span>
 *
 * A `Uint8Array` (a `Buffer` included), an `ArrayBuffer` or a `Buffer[]` (the three shapes `ws`
 * gives a `'message'` listener for a binary frame, depending on `binaryType`) is gunzipped with
 * `zlib.gunzip` and read as UTF-8. A string that is exactly a base64 gzip envelope
 * (`{"compressed":true,"encoding":"gzip","data":"H4sI…"}`) is unwrapped and gunzipped. Any other
 * string is returned unchanged. The promise rejects when gunzip fails.
 *
 * ## Example
 *
 * ```ts
 * import WebSocket from 'ws';
 * import { decodeFrame } from 'ws-outbox/operators';
 *
 * const socket = new WebSocket('ws://127.0.0.1:8080');
 * socket.on('message', async (data, isBinary) => {
 *   const text = await decodeFrame(isBinary ? data : data.toString());
 *   for (const line of text.split('\n')) console.log(JSON.parse(line));
 * });
 * ```
 *
 * ```
 * frame:        <gzip bytes of "{"a":1}\n{"a":2}">
 * decodeFrame:  "{"a":1}\n{"a":2}"
 * ```
 *
 * @param frame A text frame, or a binary frame's bytes.
 * @returns A promise of the frame's text.
 */
export async function decodeFrame(
  frame: string | Uint8Array | ArrayBuffer | Buffer[],
): Promise<string> {
  return textOrGunzip(frame);
}

/**
 * Decodes each frame with {@link decodeFrame} and emits the texts in source order.
 *
 * <span class="informal">Like `concatMap(decodeFrame)`, but a plain text frame with nothing
 * ahead of it passes through synchronously.</span>
 *
 * Compressed frames are gunzipped one at a time, in order; a frame behind one being gunzipped
 * waits for it. When the source completes, the output completes after the last frame is
 * decoded. When the source errors, or a frame fails to gunzip, the output errors at once and
 * pending frames are discarded. On unsubscribe, a gunzip in progress finishes in the thread pool
 * and its result is dropped.
 *
 * ## Example
 *
 * ```ts
 * import { fromEvent, map } from 'rxjs';
 * import WebSocket from 'ws';
 * import { decodeFrames } from 'ws-outbox/operators';
 *
 * const socket = new WebSocket('ws://127.0.0.1:8080');
 * // A ws WebSocket is also an EventTarget, so fromEvent emits MessageEvents: a string `data`
 * // for a text frame, a Buffer for a binary one.
 * fromEvent<WebSocket.MessageEvent>(socket, 'message')
 *   .pipe(
 *     map((event) => event.data),
 *     decodeFrames(),
 *   )
 *   .subscribe((text) => console.log(text));
 * ```
 *
 * ```
 * frames:         -a--Z--b-------|
 * decodeFrames(): -a--------(zb)-|      (Z is gunzipped to z; b waits behind it)
 * ```
 *
 * @returns A function that returns an Observable of the frames' texts, in source order.
 */
export function decodeFrames(): OperatorFunction<
  string | Uint8Array | ArrayBuffer | Buffer[],
  string
> {
  return concatMap((frame) => {
    const text = textOrGunzip(frame);
    return typeof text === 'string' ? of(text) : from(text);
  });
}

/** Plain text as it is (synchronously, so that it need not wait a tick), else its gunzip. */
function textOrGunzip(frame: Frame): string | Promise<string> {
  if (typeof frame !== 'string') return gunzipToText(toBuffer(frame));
  const base64 = envelopeData(frame);
  return base64 === undefined ? frame : gunzipToText(Buffer.from(base64, 'base64'));
}

/**
 * The base64 payload when `text` is exactly a gzip envelope (prefix, suffix, gzip magic, valid
 * base64), else `undefined`. Not in the operators' index: shared with `ws-outbox/testing`.
 * @internal
 */
export function envelopeData(text: string): string | undefined {
  if (!text.startsWith(COMPRESSED_ENVELOPE_PREFIX) || !text.endsWith(ENVELOPE_SUFFIX)) {
    return undefined;
  }
  const data = text.slice(COMPRESSED_ENVELOPE_PREFIX.length, -ENVELOPE_SUFFIX.length);
  // A message of the application's that merely looks like an envelope stays text.
  return data.startsWith(BASE64_GZIP_MAGIC) && BASE64.test(data) ? data : undefined;
}

function toBuffer(frame: Uint8Array | ArrayBuffer | Buffer[]): Buffer {
  // isView rather than instanceof: typed arrays from another realm (vm, jest) must pass too.
  if (ArrayBuffer.isView(frame))
    return Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  if (Array.isArray(frame)) return Buffer.concat(frame);
  return Buffer.from(frame);
}

function gunzipToText(bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    gunzip(bytes, (error, text) => (error ? reject(error) : resolve(text.toString('utf8'))));
  });
}
