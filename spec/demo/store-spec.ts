import fc from 'fast-check';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  GENERATED_THREAD_SIZE,
  generatedText,
  generateMemories,
} from '../../examples/demo/memory/corpus.js';
import { MAX_CHAT_MEMORY_LENGTH, MemoryStore, truncate } from '../../examples/demo/memory/store.js';
import { searchKey, sentences, terms } from '../../examples/demo/memory/text.js';

function take<T>(iterator: Iterator<T>, n: number): T[] {
  return Array.from({ length: n }, () => iterator.next().value as T);
}

describe('generated corpus', () => {
  it('is the same for the same seed, and different for another', () => {
    const a = take(generateMemories(7), 200).map((m) => m.key);
    expect(take(generateMemories(7), 200).map((m) => m.key)).toEqual(a);
    expect(take(generateMemories(8), 200).map((m) => m.key)).not.toEqual(a);
  });

  it('gives each memory the terms and key its text reads as, and a text of whole sentences', () => {
    for (const memory of take(generateMemories(3), 500)) {
      const text = generatedText(memory.key);
      expect(terms(text)).toEqual(memory.terms);
      expect(searchKey(terms(text))).toBe(memory.key.replace(' . ', ' '));
      expect(text).toMatch(/^[A-Z0-9][^A-Z]*\.( [A-Z0-9][^A-Z]*\.)?$/);
      expect(sentences(text).length).toBe(memory.key.includes(' . ') ? 2 : 1);
    }
  });
});

describe('MemoryStore', () => {
  it('holds the corpus, then the chat messages; a snapshot does not see later ones', () => {
    const store = MemoryStore.create({ corpusSize: 100 });
    expect(store.index.size).toBe(100);
    const first = store.remember('t1', 'The Zanzibar flamingo!');
    const snapshot = store.snapshot();
    store.remember('t1', 'later');
    expect(snapshot.size).toBe(101);
    expect(snapshot.memory(100)).toMatchObject({ id: first.id, text: 'The Zanzibar flamingo!' });
    expect(snapshot.key(100)).toBe(' the zanzibar flamingo ');
    expect(snapshot.norm(100)).toBeCloseTo(store.index.normOf(['the', 'zanzibar', 'flamingo']), 12);
    expect(snapshot.memory(0).id).toBe('mem-0');
    expect(snapshot.norm(0)).toBe(store.index.norm(0));
    expect(store.snapshot().size).toBe(102);
  });

  it('keeps a chat message to its first characters', () => {
    const store = MemoryStore.create({ corpusSize: 10 });
    const kept = store.remember('t', 'x'.repeat(MAX_CHAT_MEMORY_LENGTH + 50));
    expect(kept.text).toHaveLength(MAX_CHAT_MEMORY_LENGTH);
  });

  it('cuts a chat message between two code points, never in a surrogate pair', () => {
    const store = MemoryStore.create({ corpusSize: 10 });
    const emoji = '\u{1F600}'; // two UTF-16 units
    const text = 'x'.repeat(MAX_CHAT_MEMORY_LENGTH - 1) + emoji + 'tail';
    const kept = store.remember('t', text);
    expect(kept.text).toBe('x'.repeat(MAX_CHAT_MEMORY_LENGTH - 1));
    const whole = store.remember('t', 'x'.repeat(MAX_CHAT_MEMORY_LENGTH - 2) + emoji + 'tail');
    expect(whole.text).toBe('x'.repeat(MAX_CHAT_MEMORY_LENGTH - 2) + emoji);
    // What a search returns is what was kept.
    const hits = store.snapshot().memory(11);
    expect(hits.text).toBe(whole.text);
  });

  it('truncate gives a well-formed prefix of max or max - 1 units of a well-formed text (property)', () => {
    const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
    const text = fc
      .array(fc.constantFrom('a', ' ', 'é', '\u{1F600}', '\u{1D11E}', '中', '\n'), {
        maxLength: 40,
      })
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(text, fc.integer({ min: 1, max: 50 }), (input, max) => {
        const cut = truncate(input, max);
        expect(input.startsWith(cut)).toBe(true);
        expect(cut).not.toMatch(loneSurrogate);
        if (input.length <= max) expect(cut).toBe(input);
        else expect(cut.length).toBeGreaterThanOrEqual(max - 1);
        expect(cut.length).toBeLessThanOrEqual(max);
      }),
    );
  });

  it('keeps a copy of the message, not a view that holds the whole frame it came in', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const store = MemoryStore.create({ corpusSize: 10, chatCapacity: 1_000 });
    gc();
    const before = process.memoryUsage().heapUsed;
    // 800 texts of 64 KiB each, as JSON.parse hands them over from a frame: 52 MB if held.
    for (let i = 0; i < 800; i++) {
      const frame = JSON.stringify({ text: `${i} ${'word '.repeat(13_000)}` });
      store.remember('t', (JSON.parse(frame) as { text: string }).text);
    }
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    expect(store.chatCount).toBe(800);
    expect(grown).toBeLessThan(12 * 1024 * 1024);
  });

  it('forgets the oldest chat messages past its bytes, and counts what it holds', () => {
    const store = MemoryStore.create({ corpusSize: 10, chatBytes: 20_000 });
    for (let i = 0; i < 100; i++) store.remember(i % 2 ? 'a' : 'b', `${i} ${'y'.repeat(900)}`);
    // Each: 2 × (~904 text + ~905 key + 1 thread id) + 200 overhead ≈ 3,820 bytes: five fit.
    expect(store.chatCount).toBe(5);
    expect(store.chatBytes).toBeLessThanOrEqual(20_000);
    expect(store.chatBytes).toBeGreaterThan(15_000);
    expect(store.thread('a')!.map((text) => text.split(' ')[0])).toEqual(['95', '97', '99']);
    expect(store.thread('b')!.map((text) => text.split(' ')[0])).toEqual(['96', '98']);
  });

  it('forgets the oldest chat messages past its capacity, from the snapshot and their thread', () => {
    const store = MemoryStore.create({ corpusSize: 10, chatCapacity: 3 });
    for (let i = 1; i <= 8; i++) store.remember(i % 2 === 0 ? 'even' : 'odd', `message ${i}`);
    expect(store.chatCount).toBe(3);
    const snapshot = store.snapshot();
    expect([10, 11, 12].map((i) => snapshot.memory(i).text)).toEqual([
      'message 6',
      'message 7',
      'message 8',
    ]);
    expect(store.thread('even')).toEqual(['message 6', 'message 8']);
    expect(store.thread('odd')).toEqual(['message 7']);
    store.remember('new', 'a');
    store.remember('new', 'b');
    store.remember('new', 'c');
    expect(store.thread('odd')).toBeUndefined(); // emptied, then gone
    expect(store.thread('even')).toBeUndefined();
  });

  it('reads a generated thread gen-<k> as its block of the corpus', () => {
    const store = MemoryStore.create({ corpusSize: GENERATED_THREAD_SIZE * 2 + 5 });
    const snapshot = store.snapshot();
    const block = (start: number, end: number) =>
      Array.from({ length: end - start }, (_, i) => snapshot.memory(start + i).text);
    expect(store.thread('gen-1')).toEqual(block(GENERATED_THREAD_SIZE, GENERATED_THREAD_SIZE * 2));
    expect(store.thread('gen-2')).toEqual(
      block(GENERATED_THREAD_SIZE * 2, GENERATED_THREAD_SIZE * 2 + 5),
    );
    expect(store.thread('gen-3')).toBeUndefined();
    expect(store.thread('nobody')).toBeUndefined();
  });
});
