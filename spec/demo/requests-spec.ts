import { isOperationError } from '../../src/index.js';
import {
  MAX_QUERY_LENGTH,
  parseCompressRequest,
  parseSearchRequest,
} from '../../examples/demo/memory/requests.js';

/** The OperationError `parse` throws for `data`: its code and message. */
function refusal(parse: (data: unknown) => unknown, data: unknown) {
  try {
    parse(data);
  } catch (error) {
    if (isOperationError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(data)}`);
}

describe('memory_search data', () => {
  it('takes a query and a limit from 1 to 100, 10 by default', () => {
    expect(parseSearchRequest({ query: 'saffron' })).toEqual({ query: 'saffron', limit: 10 });
    expect(parseSearchRequest({ query: 'x', limit: 1 })).toEqual({ query: 'x', limit: 1 });
    expect(parseSearchRequest({ query: 'x'.repeat(MAX_QUERY_LENGTH), limit: 100 }).limit).toBe(100);
  });

  it.each([
    [undefined, /data must be an object/],
    [[], /data must be an object/],
    [{}, /query must be a non-empty string/],
    [{ query: '   ' }, /query must be a non-empty string/],
    [{ query: 42 }, /query must be a non-empty string/],
    [{ query: 'x'.repeat(MAX_QUERY_LENGTH + 1) }, /at most 256 characters/],
    [{ query: 'x', limit: 0 }, /limit must be an integer from 1 to 100/],
    [{ query: 'x', limit: 101 }, /limit must be an integer from 1 to 100/],
    [{ query: 'x', limit: 2.5 }, /limit must be an integer/],
    [{ query: 'x', limit: '5' }, /limit must be an integer/],
  ])('refuses %j as bad_request', (data, message) => {
    const { code, message: text } = refusal(parseSearchRequest, data);
    expect(code).toBe('bad_request');
    expect(text).toMatch(message);
  });
});

describe('memory_compress_preview data', () => {
  it('takes an optional thread_id and max_sentences from 1 to 50, 3 by default', () => {
    expect(parseCompressRequest(undefined)).toEqual({ threadId: undefined, maxSentences: 3 });
    expect(parseCompressRequest({ thread_id: 'gen-2', max_sentences: 50 })).toEqual({
      threadId: 'gen-2',
      maxSentences: 50,
    });
  });

  it.each([
    [null, /data must be an object/],
    [{ thread_id: '' }, /thread_id must be a string of 1 to 64/],
    [{ thread_id: 'x'.repeat(65) }, /thread_id must be a string of 1 to 64/],
    [{ thread_id: 7 }, /thread_id must be a string/],
    [{ max_sentences: 0 }, /max_sentences must be an integer from 1 to 50/],
    [{ max_sentences: 51 }, /max_sentences must be an integer from 1 to 50/],
  ])('refuses %j as bad_request', (data, message) => {
    const { code, message: text } = refusal(parseCompressRequest, data);
    expect(code).toBe('bad_request');
    expect(text).toMatch(message);
  });
});
