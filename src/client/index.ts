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
  ClientUrl,
  ConnectionStatus,
  OutboxClientOptions,
  WebSocketConstructor,
} from './outboxClient.js';
export {
  ConnectionLostError,
  OperationFailedError,
  RequestTimeoutError,
  TopicError,
} from './errors.js';
export type { TopicErrorCode } from './errors.js';
export { REMEMBERED_POSITIONS } from './topics.js';
export type { RecoveryReason, TopicPosition, TopicRecovery } from './topics.js';
export { MAX_RESUME_LENGTH, MAX_RESUME_TOPICS, RESUME_PARAMETER } from './resume.js';
export { COMPRESSED_ENVELOPE_PREFIX, decodeFrame, parseNdjson } from './decode.js';
export type { IncomingFrame } from './decode.js';
export { backoffDelay, resolveReconnect } from './backoff.js';
export type { ReconnectOptions, ResolvedReconnectOptions } from './backoff.js';
export type { RequestEvent, RequestOptions, ServerMessage } from './requests.js';
