/**
 * The client, for browsers and Node 20+, with no Node-only imports: {@link OutboxClient}
 * decodes what an outbox sends, runs requests as Observables and reconnects; {@link decodeFrame}
 * and {@link parseNdjson} are its decoding steps on their own.
 *
 * @module ws-outbox/client
 */
export { OutboxClient, CLOSE_SERVER_SILENT } from './outboxClient.js';
export type {
  ClientSocket,
  ConnectionStatus,
  OutboxClientOptions,
  WebSocketConstructor,
} from './outboxClient.js';
export { ConnectionLostError, OperationFailedError, RequestTimeoutError } from './errors.js';
export { COMPRESSED_ENVELOPE_PREFIX, decodeFrame, parseNdjson } from './decode.js';
export type { IncomingFrame } from './decode.js';
export { backoffDelay, resolveReconnect } from './backoff.js';
export type { ReconnectOptions, ResolvedReconnectOptions } from './backoff.js';
export type { RequestEvent, RequestOptions, ServerMessage } from './requests.js';
