export { Operations } from './operations.js';
export type { Detach, OperationsOptions, OperationsSocket } from './operations.js';
export { OperationRunner } from './runner.js';
export { BUSY_MESSAGE, ConcurrencyLimiter } from './concurrencyLimiter.js';
export type { ConcurrencyLimit } from './concurrencyLimiter.js';
export type { MessageCost, MessageOptions, OperationOptions } from './registry.js';
export type { HandlerErrorInfo, OperationsOutbox, TopicRequestHandler } from './runner.js';
export { progress, result } from './handler.js';
export type {
  MessageContext,
  MessageHandler,
  OperationContext,
  OperationEvent,
  OperationHandler,
  ProgressEvent,
  ResultEvent,
} from './handler.js';
export {
  failureCode,
  GENERIC_FAILURE_MESSAGE,
  isOperationError,
  isRejection,
  OPERATION_OUTCOMES,
  OperationAbortedError,
  OperationError,
  REJECTION_CODES,
  RejectionCode,
  timeoutCode,
} from './errors.js';
export type { AbortOutcome, OperationErrorOptions, OperationOutcome } from './errors.js';
export { MAX_ID_LENGTH, parseClientFrame } from './protocol.js';
export type {
  ClientMessage,
  ErrorMessage,
  OperationEventMessage,
  OperationServerMessage,
  ParsedFrame,
  RawFrame,
} from './protocol.js';
export { DEFAULT_RATE_LIMIT, TokenBucket } from './tokenBucket.js';
export type { RateLimit } from './tokenBucket.js';
export { throttleProgress } from './throttleProgress.js';
export {
  CLOSE_MESSAGE_TOO_BIG,
  DEFAULT_MAX_PAYLOAD,
  recommendedServerOptions,
} from './serverOptions.js';
export type { RecommendedServerOptions } from './serverOptions.js';
