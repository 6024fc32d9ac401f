/**
 * The transport-free RxJS operators, for Node: {@link boundedBuffer}, {@link coalesce},
 * {@link ndjson} and {@link gzipOver} on the way out, {@link fromNdjson} and
 * {@link decodeFrames} on the way in. They import nothing but rxjs, Node's built-ins and
 * fast-json-stringify.
 *
 * @module ws-outbox/operators
 */
export { boundedBuffer, BufferOverflowError } from './boundedBuffer.js';
export type { BoundedBufferConfig, OverflowStrategy } from './boundedBuffer.js';
export { coalesce } from './coalesce.js';
export type { CoalesceConfig } from './coalesce.js';
export { ndjson } from './ndjson.js';
export type { NdjsonConfig } from './ndjson.js';
export { fromNdjson, parseNdjson } from './fromNdjson.js';
export { gzipOver, gzipSyncCompressor, inlineGzipCompressor } from './gzipOver.js';
export type { GzipOverConfig, GzipCompressor } from './gzipOver.js';
export { decodeFrame, decodeFrames, COMPRESSED_ENVELOPE_PREFIX } from './decodeFrame.js';
export { RawJson, isRawJson } from './rawJson.js';
export { catchUp, CatchUpOverflowError, OffsetGapError } from './catchUp.js';
export type { CatchUpConfig } from './catchUp.js';
