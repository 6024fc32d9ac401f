import { GENERATED_THREAD_SIZE, generatedText, generateMemories } from './corpus.js';
import { TfIdfIndexBuilder } from './tfidf.js';
import type { TfIdfIndex } from './tfidf.js';
import { searchKey, terms } from './text.js';

/** A memory as a search returns it. */
export interface Memory {
  /** `mem-<n>` for the generated corpus, `chat-<n>` for a chat message. */
  readonly id: string;
  readonly text: string;
}

/** Everything a search needs of one memory. */
interface Searchable {
  readonly key: string;
  readonly norm: number;
}

interface ChatMemory extends Memory, Searchable {
  readonly threadId: string;
  /** What it counts against `chatBytes`. */
  readonly bytes: number;
}

/** The memories a search goes through, fixed when it starts. */
export interface MemorySnapshot {
  readonly size: number;
  /** The `searchKey` of memory `i`. */
  key(i: number): string;
  /** The TF-IDF norm of memory `i`. */
  norm(i: number): number;
  memory(i: number): Memory;
}

/** Options of {@link MemoryStore.create}. */
export interface MemoryStoreOptions {
  /** Memories generated at start. */
  readonly corpusSize: number;
  /** Seed of the generator. Default 1. */
  readonly seed?: number;
  /** Chat messages kept, oldest forgotten first. Default 10,000. */
  readonly chatCapacity?: number;
  /**
   * Bytes the chat messages kept may take (their text and search key, UTF-16, plus a fixed
   * overhead each), oldest forgotten first. Default 16 MiB.
   */
  readonly chatBytes?: number;
}

/** Characters of a chat message kept: memories are short, and a frame may be 64 KiB. */
export const MAX_CHAT_MEMORY_LENGTH = 1_000;

/** Default of {@link MemoryStoreOptions.chatBytes}. */
export const DEFAULT_CHAT_BYTES = 16 * 1024 * 1024;

/** What a kept chat message costs besides its strings: the object, its id, the array slots. */
const CHAT_OVERHEAD_BYTES = 200;

const GENERATED_THREAD = /^gen-(\d+)$/;

/**
 * The demo's memory: a generated corpus, fixed, and the chat messages the server has seen, in
 * threads, bounded. IDF comes from the corpus alone, so a flood of chat messages cannot skew
 * the weights, and the corpus's statistics are computed once.
 */
export class MemoryStore {
  private readonly chats: ChatMemory[] = [];
  /** Index in `chats` of the oldest message kept: dropping from the front is a move of this. */
  private head = 0;
  private readonly threads = new Map<string, ChatMemory[]>();
  private nextChat = 1;
  private bytes = 0;

  private constructor(
    /** The generated memories' keys; their texts are rebuilt from these on demand. */
    private readonly keys: readonly string[],
    readonly index: TfIdfIndex,
    private readonly chatCapacity: number,
    private readonly maxChatBytes: number,
  ) {}

  /** Generates the corpus and indexes it: the demo's start-up cost, measured in docs/demo.md. */
  static create(options: MemoryStoreOptions): MemoryStore {
    const builder = new TfIdfIndexBuilder();
    const keys = new Array<string>(options.corpusSize);
    const memories = generateMemories(options.seed ?? 1);
    for (let i = 0; i < keys.length; i++) {
      const memory = memories.next().value;
      builder.add(memory.terms);
      keys[i] = memory.key;
    }
    return new MemoryStore(
      keys,
      builder.build(),
      options.chatCapacity ?? 10_000,
      options.chatBytes ?? DEFAULT_CHAT_BYTES,
    );
  }

  /** Memories generated at start. */
  get corpusSize(): number {
    return this.keys.length;
  }

  /** Chat messages held now. */
  get chatCount(): number {
    return this.chats.length - this.head;
  }

  /** What the chat messages held now count against `chatBytes`. */
  get chatBytes(): number {
    return this.bytes;
  }

  /**
   * Keeps a chat message (its first {@link MAX_CHAT_MEMORY_LENGTH} characters, cut between two
   * code points) in a thread, forgetting the oldest messages while the store is over its count
   * or its bytes.
   */
  remember(threadId: string, text: string): Memory {
    const kept = flatCopy(truncate(text, MAX_CHAT_MEMORY_LENGTH));
    const textTerms = terms(kept);
    const key = searchKey(textTerms);
    const memory: ChatMemory = {
      id: `chat-${this.nextChat++}`,
      text: kept,
      key,
      norm: this.index.normOf(textTerms),
      threadId,
      bytes: 2 * (kept.length + key.length + threadId.length) + CHAT_OVERHEAD_BYTES,
    };
    this.chats.push(memory);
    this.bytes += memory.bytes;
    const thread = this.threads.get(threadId);
    if (thread) thread.push(memory);
    else this.threads.set(threadId, [memory]);
    while (this.chatCount > this.chatCapacity || this.bytes > this.maxChatBytes) {
      this.forgetOldest();
    }
    return { id: memory.id, text: memory.text };
  }

  /** The memories as they are now: the corpus, then the chat messages oldest first. */
  snapshot(): MemorySnapshot {
    const { keys, index } = this;
    const chats = this.chats.slice(this.head);
    const n = keys.length;
    return {
      size: n + chats.length,
      key: (i) => (i < n ? keys[i] : chats[i - n].key),
      norm: (i) => (i < n ? index.norm(i) : chats[i - n].norm),
      memory: (i) => (i < n ? { id: `mem-${i}`, text: generatedText(keys[i]) } : chats[i - n]),
    };
  }

  /**
   * The texts of a thread, oldest first: `gen-<k>` for the k-th generated thread, or a thread
   * of chat messages. Undefined for a thread that does not exist (or whose messages were all
   * forgotten).
   */
  thread(threadId: string): readonly string[] | undefined {
    const generated = GENERATED_THREAD.exec(threadId);
    if (generated) {
      const start = Number(generated[1]) * GENERATED_THREAD_SIZE;
      if (start >= this.keys.length) return undefined;
      return this.keys.slice(start, start + GENERATED_THREAD_SIZE).map(generatedText);
    }
    return this.threads.get(threadId)?.map((memory) => memory.text);
  }

  private forgetOldest(): void {
    const oldest = this.chats[this.head++];
    this.bytes -= oldest.bytes;
    const thread = this.threads.get(oldest.threadId)!;
    // The oldest message overall is the oldest of its thread.
    thread.shift();
    if (thread.length === 0) this.threads.delete(oldest.threadId);
    // Compact now and then, so the array does not grow with every message ever seen.
    if (this.head >= this.chatCapacity) {
      this.chats.splice(0, this.head);
      this.head = 0;
    }
  }
}

/**
 * The first `max` UTF-16 units of `text`, one fewer if that would split a surrogate pair: a
 * memory never ends in half a character.
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const last = text.charCodeAt(max - 1);
  const splitsPair = last >= 0xd800 && last <= 0xdbff;
  return text.slice(0, splitsPair ? max - 1 : max);
}

/**
 * A copy of `text` in a string of its own. `slice` makes a view that keeps the whole original
 * alive (a 1,000-character memory would hold its 64 KiB frame); a round trip through UTF-8 bytes
 * builds a new flat string. It also replaces a lone surrogate with U+FFFD, as sending the text
 * as UTF-8 would.
 */
export function flatCopy(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}

/** Whether a thread id names a generated thread (`gen-<k>`), which chat messages cannot join. */
export function isGeneratedThread(threadId: string): boolean {
  return GENERATED_THREAD.test(threadId);
}
