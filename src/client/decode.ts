/**
 * How every base64 gzip envelope that the server's `gzipOver(…, { encoding: 'base64' })` emits
 * begins: `{"compressed":true,"encoding":"gzip","data":"<base64>"}`, keys always in that order.
 */
export const COMPRESSED_ENVELOPE_PREFIX = '{"compressed":true,"encoding":"gzip","data":"';

const ENVELOPE_SUFFIX = '"}';
// Every gzip member starts with the bytes 1f 8b 08, which base64 spells "H4sI".
const BASE64_GZIP_MAGIC = 'H4sI';
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * What a WebSocket's `message` event may carry: text, or a binary frame as a browser
 * (`ArrayBuffer` or `Blob`, per `binaryType`) or `ws` (`ArrayBuffer`, a `Buffer`, or `Buffer[]`
 * fragments) hands it over.
 */
export type IncomingFrame = string | ArrayBuffer | ArrayBufferView | Blob | readonly Uint8Array[];

/**
 * Turns one frame from a ws-outbox server back into its NDJSON text, in browsers and in Node.
 *
 * <span class="informal">Binary frames and base64 envelopes are gunzipped with
 * `DecompressionStream('gzip')`; any other text comes back as it is, synchronously.</span>
 *
 * A string that is exactly a base64 gzip envelope is unwrapped (`atob`) and gunzipped; any
 * other string is returned unchanged, **not** wrapped in a promise, so that plain text frames
 * need not wait a tick. Anything else is a binary frame: its bytes are gunzipped and read as
 * UTF-8. The promise rejects when the bytes are not valid gzip.
 *
 * ## Example
 *
 * ```ts
 * socket.binaryType = 'arraybuffer';
 * socket.onmessage = async ({ data }) => {
 *   const text = await decodeFrame(data);
 *   for (const message of parseNdjson(text)) console.log(message);
 * };
 * ```
 *
 * @param frame A `message` event's `data`.
 * @returns The frame's text, or a promise of it when it has to be gunzipped.
 */
export function decodeFrame(frame: IncomingFrame): string | Promise<string> {
  if (typeof frame === 'string') {
    const base64 = envelopeData(frame);
    return base64 === undefined ? frame : gunzip(fromBase64(base64));
  }
  return bytesOf(frame).then(gunzip);
}

/**
 * Splits an NDJSON text into its JSON values.
 *
 * <span class="informal">Empty lines are skipped; a line that is not JSON is passed to
 * `onInvalid` and skipped, so one bad line costs only itself.</span>
 *
 * @param text One frame's text: JSON values separated by `"\n"`.
 * @param onInvalid Sees each line that failed to parse, with the parse error.
 * @returns The values, in order.
 */
export function parseNdjson(
  text: string,
  onInvalid?: (line: string, error: unknown) => void,
): unknown[] {
  const values: unknown[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      values.push(JSON.parse(line));
    } catch (error) {
      onInvalid?.(line, error);
    }
  }
  return values;
}

/** The base64 payload when `text` is exactly a gzip envelope, else `undefined`. */
function envelopeData(text: string): string | undefined {
  if (!text.startsWith(COMPRESSED_ENVELOPE_PREFIX) || !text.endsWith(ENVELOPE_SUFFIX)) {
    return undefined;
  }
  const data = text.slice(COMPRESSED_ENVELOPE_PREFIX.length, -ENVELOPE_SUFFIX.length);
  // A message of the application's that merely looks like an envelope stays text.
  return data.startsWith(BASE64_GZIP_MAGIC) && BASE64.test(data) ? data : undefined;
}

function fromBase64(base64: string): Uint8Array {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

async function bytesOf(frame: Exclude<IncomingFrame, string>): Promise<Uint8Array> {
  // isView rather than instanceof: typed arrays from another realm (iframes, vm, jest) pass too.
  if (ArrayBuffer.isView(frame)) {
    return new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength);
  }
  if (Array.isArray(frame)) return concat(frame as readonly Uint8Array[]);
  if (isBlob(frame)) return new Uint8Array(await frame.arrayBuffer());
  return new Uint8Array(frame as ArrayBuffer);
}

function isBlob(frame: unknown): frame is Blob {
  return typeof Blob !== 'undefined' && frame instanceof Blob;
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const chunk of chunks) length += chunk.byteLength;
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

async function gunzip(bytes: Uint8Array): Promise<string> {
  const stream = new DecompressionStream('gzip');
  const writer = stream.writable.getWriter();
  // Errors surface on the readable side, where they are awaited; these two would only repeat
  // them as unhandled rejections.
  writer.write(bytes as Uint8Array<ArrayBuffer>).catch(() => undefined);
  writer.close().catch(() => undefined);
  const reader = stream.readable.getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  return text + decoder.decode();
}
