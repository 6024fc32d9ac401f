/**
 * One incoming frame as a transport delivers it: `ws` hands over a Buffer (or an ArrayBuffer, or
 * Buffer fragments, depending on `binaryType`); other transports may have the text already.
 */
export type RawFrame = string | Buffer | ArrayBuffer | Buffer[];

/** Longest `id` accepted. Ids are echoed in every reply and kept while an operation runs. */
export const MAX_ID_LENGTH = 128;

/**
 * A client message that passed validation: a JSON object with a non-empty string `type`, and
 * an `id` that, when present, is a non-empty string of at most {@link MAX_ID_LENGTH} characters.
 * Other fields are kept: plain message handlers may use their own (the demo's `chat.message`
 * carries `payload`).
 */
export interface ClientMessage {
  readonly type: string;
  readonly id?: string;
  readonly data?: unknown;
  readonly [field: string]: unknown;
}

/** What {@link parseClientFrame} makes of a frame. */
export type ParsedFrame =
  | { readonly ok: true; readonly message: ClientMessage }
  | {
      readonly ok: false;
      /** The frame's `id`, when it had a valid one, so the reply can carry it. */
      readonly id?: string;
      /** Why it was refused, in words safe to send back. */
      readonly reason: string;
    };

/** An operation's event: `<type>.progress`, `.result`, `.complete` or `.cancelled`. */
export interface OperationEventMessage {
  readonly type: string;
  readonly id: string;
  readonly data?: unknown;
}

/** `{type:"error", id?, code, message}`: a refused message, or an operation that failed. */
export interface ErrorMessage {
  readonly type: 'error';
  readonly id?: string;
  readonly code: string;
  readonly message: string;
}

/**
 * Every message the operations layer sends. Add it to your outbox's message type:
 * `WsOutbox<AppEvent | OperationServerMessage>`.
 */
export type OperationServerMessage = OperationEventMessage | ErrorMessage;

/** The suffixes of an operation's events. */
export type EventSuffix = 'progress' | 'result' | 'complete' | 'cancelled';

/**
 * Builds `{type:"<type>.<suffix>", id, data?}`; `data` is left out when undefined.
 * @returns The event, ready for the outbox.
 */
export function eventMessage(
  type: string,
  suffix: EventSuffix,
  id: string,
  data?: unknown,
): OperationEventMessage {
  const event = { type: `${type}.${suffix}`, id };
  return data === undefined ? event : { ...event, data };
}

/**
 * Builds `{type:"error", id?, code, message}`; `id` is left out when undefined.
 * @returns The error reply, ready for the outbox.
 */
export function errorMessage(code: string, message: string, id?: string): ErrorMessage {
  return id === undefined ? { type: 'error', code, message } : { type: 'error', id, code, message };
}

const NOT_TEXT = 'Send JSON text frames; binary frames are not accepted.';
const NOT_JSON = 'The frame is not valid JSON.';
const NOT_A_MESSAGE = 'A message must be a JSON object with a non-empty string "type".';
const BAD_ID = `"id" must be a non-empty string of at most ${MAX_ID_LENGTH} characters.`;

/**
 * Reads one client frame: UTF-8 JSON text holding an object with a string `type`.
 *
 * The refusal reasons are fixed texts: nothing of the frame and nothing of `JSON.parse`'s error
 * is echoed, apart from a valid `id`.
 *
 * ## Example
 *
 * ```ts
 * const parsed = parseClientFrame('{"type":"memory_search","id":"r1","data":{"query":"x"}}', false);
 * if (parsed.ok) console.log(parsed.message.type); // 'memory_search'
 * ```
 *
 * @param frame The frame's payload.
 * @param isBinary Whether it came as a binary frame (refused: the protocol is text).
 * @returns The message, or why it was refused.
 */
export function parseClientFrame(frame: RawFrame, isBinary: boolean): ParsedFrame {
  if (isBinary) return { ok: false, reason: NOT_TEXT };
  let value: unknown;
  try {
    value = JSON.parse(toText(frame));
  } catch {
    return { ok: false, reason: NOT_JSON };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: NOT_A_MESSAGE };
  }
  const message = value as Record<string, unknown>;
  const { id, type } = message;
  const idOk = id === undefined || isValidId(id);
  if (typeof type !== 'string' || type.length === 0) {
    return idOk && id !== undefined
      ? { ok: false, id: id as string, reason: NOT_A_MESSAGE }
      : { ok: false, reason: NOT_A_MESSAGE };
  }
  if (!idOk) return { ok: false, reason: BAD_ID };
  return { ok: true, message: message as ClientMessage };
}

/**
 * Whether `id` is acceptable as an operation id.
 * @returns True for a non-empty string of at most {@link MAX_ID_LENGTH} characters.
 */
export function isValidId(id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH;
}

function toText(frame: RawFrame): string {
  if (typeof frame === 'string') return frame;
  if (Array.isArray(frame)) return Buffer.concat(frame).toString('utf8');
  if (Buffer.isBuffer(frame)) return frame.toString('utf8');
  return Buffer.from(frame).toString('utf8');
}
