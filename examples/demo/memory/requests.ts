import { OperationError } from '../../../src/index.js';

/** Longest query accepted, in characters. */
export const MAX_QUERY_LENGTH = 256;
/** Most results a search returns. */
export const MAX_LIMIT = 100;
/** Most sentences a summary keeps. */
export const MAX_SUMMARY_SENTENCES = 50;
/** Longest thread id accepted. */
export const MAX_THREAD_ID_LENGTH = 64;

/** `memory_search` data, checked. */
export interface SearchRequest {
  readonly query: string;
  readonly limit: number;
}

/** `memory_compress_preview` data, checked. */
export interface CompressRequest {
  /** Undefined: the connection's own thread. */
  readonly threadId: string | undefined;
  readonly maxSentences: number;
}

/**
 * Reads `memory_search` data: `{ query: string, limit?: integer }`.
 * @throws OperationError with code `bad_request`, its message saying what to fix.
 */
export function parseSearchRequest(data: unknown): SearchRequest {
  const fields = objectOf(data, '{"query": string, "limit"?: integer}');
  const { query } = fields;
  if (typeof query !== 'string' || query.trim().length === 0) {
    throw badRequest('data.query must be a non-empty string.');
  }
  if (query.length > MAX_QUERY_LENGTH) {
    throw badRequest(`data.query must be at most ${MAX_QUERY_LENGTH} characters.`);
  }
  return { query, limit: integerIn(fields.limit, 'data.limit', 1, MAX_LIMIT, 10) };
}

/**
 * Reads `memory_compress_preview` data: `{ thread_id?: string, max_sentences?: integer }`,
 * `data` itself optional.
 * @throws OperationError with code `bad_request`, its message saying what to fix.
 */
export function parseCompressRequest(data: unknown): CompressRequest {
  const fields =
    data === undefined ? {} : objectOf(data, '{"thread_id"?: string, "max_sentences"?: integer}');
  const threadId = fields.thread_id;
  if (
    threadId !== undefined &&
    (typeof threadId !== 'string' ||
      threadId.length === 0 ||
      threadId.length > MAX_THREAD_ID_LENGTH)
  ) {
    throw badRequest(`data.thread_id must be a string of 1 to ${MAX_THREAD_ID_LENGTH} characters.`);
  }
  const maxSentences = integerIn(
    fields.max_sentences,
    'data.max_sentences',
    1,
    MAX_SUMMARY_SENTENCES,
    3,
  );
  return { threadId, maxSentences };
}

function objectOf(data: unknown, shape: string): Record<string, unknown> {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw badRequest(`data must be an object: ${shape}.`);
  }
  return data as Record<string, unknown>;
}

function integerIn(
  value: unknown,
  name: string,
  min: number,
  max: number,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw badRequest(`${name} must be an integer from ${min} to ${max}.`);
  }
  return value;
}

function badRequest(message: string): OperationError {
  return new OperationError(message, { code: 'bad_request' });
}
