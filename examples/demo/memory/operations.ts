import { OperationError } from '../../../src/index.js';
import type { OperationHandler } from '../../../src/index.js';
import { chunked } from './chunked.js';
import type { Defer, ScanProgress } from './chunked.js';
import { parseCompressRequest, parseSearchRequest } from './requests.js';
import { compileQuery, scoreText } from './similarity.js';
import type { MemoryStore } from './store.js';
import { ThreadSummarizer } from './summarize.js';
import type { ScoredSentence, SentencePicker } from './summarize.js';
import { sentences } from './text.js';
import { TopK } from './topK.js';

/** What the demo knows of a connection: handlers get it as `context.session`. */
export interface DemoSession {
  /** The thread its chat messages go to, and that `memory_compress_preview` reads by default. */
  readonly threadId: string;
}

/** One chunk of an operation done, as {@link MemoryOperationsOptions.onChunk} sees it. */
export interface ChunkEvent extends ScanProgress {
  readonly operation: string;
  readonly id: string;
}

/** Options of the memory operation handlers. */
export interface MemoryOperationsOptions {
  /** Memories (or sentences) per chunk, each in its own macrotask. Default 1,000. */
  readonly chunkSize?: number;
  /** How a handler yields between chunks. Default `setImmediate`. */
  readonly defer?: Defer;
  /** Called after every chunk of every operation: for tests and benchmarks. */
  readonly onChunk?: (chunk: ChunkEvent) => void;
}

/** A search hit: `memory_search.result` data holds these, best first. */
export interface SearchItem {
  readonly id: string;
  readonly text: string;
  /** TF-IDF cosine with typo-tolerant matching, in [0, 1], rounded to 4 decimals. */
  readonly score: number;
}

/** `memory_search.result` data. */
export interface SearchResult {
  readonly items: SearchItem[];
}

/** `memory_compress_preview.result` data. */
export interface CompressResult {
  /** The kept sentences joined by spaces. */
  readonly summary: string;
  /** The kept sentences, in the thread's order. */
  readonly sentences: ScoredSentence[];
  /** Characters of the summary over characters of the thread. */
  readonly ratio: number;
}

const DEFAULT_CHUNK_SIZE = 1_000;

/**
 * Characters of a thread a compress preview reads at most: its latest messages, whole, up to
 * this many. A thread a client filled itself may hold 10,000 messages.
 */
export const MAX_PREVIEW_CHARS = 16_000;
/** Sentences a compress preview reads at most: the latest of those messages'. */
export const MAX_PREVIEW_SENTENCES = 1_000;

/**
 * The `memory_search` handler: `{ query, limit }` → progress `{ scanned, total }` chunk by
 * chunk, then `{ items }`, the `limit` memories most similar to the query.
 *
 * Every memory is scored (see `scoreText`): there is no index to skip most of them, because a
 * typo-tolerant fragment match needs each text. The memories are those held when the search
 * starts.
 */
export function memorySearch(
  store: MemoryStore,
  options: MemoryOperationsOptions = {},
): OperationHandler<DemoSession> {
  return (data, { type, id, signal }) => {
    const { query, limit } = parseSearchRequest(data);
    const compiled = compileQuery(query, store.index);
    if (compiled.terms.length === 0) {
      throw new OperationError('data.query needs a word of two characters or more.', {
        code: 'bad_request',
      });
    }
    const memories = store.snapshot();
    const top = new TopK(limit);
    return chunked<SearchResult>({
      ...loopOptions(options, type, id, signal),
      total: memories.size,
      step: (start, end) => {
        for (let i = start; i < end; i++) {
          const score = scoreText(compiled, memories.key(i), memories.norm(i));
          if (score > 0) top.offer(i, score);
        }
      },
      finish: () => ({
        items: top.sorted().map(({ index, score }) => {
          const { id: memoryId, text } = memories.memory(index);
          return { id: memoryId, text, score: round(score) };
        }),
      }),
    });
  };
}

/**
 * The `memory_compress_preview` handler: `{ thread_id?, max_sentences? }` → progress `{
 * scanned, total }` over the thread's sentences, then `{ summary, sentences, ratio }`.
 *
 * The thread defaults to the connection's own (its chat messages); `gen-<k>` names a generated
 * one. Only its latest part is read (see {@link latestSentences}), so that the work is bounded
 * whatever a client put in the thread; the reading and the picking both run in chunks.
 */
export function memoryCompressPreview(
  store: MemoryStore,
  options: MemoryOperationsOptions = {},
): OperationHandler<DemoSession> {
  return (data, { type, id, signal, session }) => {
    const request = parseCompressRequest(data);
    const threadId = request.threadId ?? session.threadId;
    const texts = store.thread(threadId);
    if (!texts || texts.length === 0) {
      const message =
        request.threadId === undefined
          ? 'This connection has no chat messages yet: send some, or give data.thread_id (e.g. "gen-0").'
          : 'data.thread_id names no thread with messages (generated threads are "gen-0", "gen-1", …).';
      throw new OperationError(message, { code: 'bad_request' });
    }
    const all = latestSentences(texts);
    const summarizer = new ThreadSummarizer(all, store.index);
    const threadLength = all.reduce((sum, sentence) => sum + sentence.length, 0) + all.length - 1;
    const loop = loopOptions(options, type, id, signal);
    let picker: SentencePicker | undefined;
    return chunked<CompressResult>({
      ...loop,
      total: all.length,
      step: (start, end) => summarizer.read(start, end),
      // Picking costs up to max_sentences × sentences scores: a chunk's worth at a time.
      settle: () => (picker ??= summarizer.picker(request.maxSentences)).step(loop.chunkSize),
      finish: () => {
        const kept = picker!.result();
        const summary = kept.map((sentence) => sentence.text).join(' ');
        const rounded = kept.map((sentence) => ({ ...sentence, score: round(sentence.score) }));
        return { summary, sentences: rounded, ratio: round(summary.length / threadLength) };
      },
    });
  };
}

/**
 * The sentences of a thread's latest messages: whole messages, newest first, while they add up
 * to at most {@link MAX_PREVIEW_CHARS} characters (at least the newest one), then the last
 * {@link MAX_PREVIEW_SENTENCES} of their sentences, in the thread's order.
 */
export function latestSentences(
  texts: readonly string[],
  maxChars = MAX_PREVIEW_CHARS,
  maxSentences = MAX_PREVIEW_SENTENCES,
): string[] {
  let first = texts.length;
  let chars = 0;
  while (first > 0 && (first === texts.length || chars + texts[first - 1].length <= maxChars)) {
    chars += texts[--first].length;
  }
  const all = texts.slice(first).flatMap(sentences);
  return all.length > maxSentences ? all.slice(-maxSentences) : all;
}

function loopOptions(
  options: MemoryOperationsOptions,
  operation: string,
  id: string,
  signal: AbortSignal,
) {
  const { onChunk, defer } = options;
  return {
    chunkSize: options.chunkSize ?? DEFAULT_CHUNK_SIZE,
    signal,
    defer,
    onChunk: onChunk && ((done: ScanProgress) => onChunk({ operation, id, ...done })),
  };
}

function round(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}
