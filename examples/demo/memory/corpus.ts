import { pick, seededRandom } from './prng.js';
import type { Random } from './prng.js';
import { DAYS, MONTHS, PEOPLE, PROJECTS, TOPICS, VERBS } from './vocabulary.js';
import type { Topic } from './vocabulary.js';

/** Memories per generated thread: consecutive memories `[k × size, (k + 1) × size)` form `gen-k`. */
export const GENERATED_THREAD_SIZE = 40;

/** Between two sentences of a generated memory's key. */
const SENTENCE_BREAK = ' . ';

/** One generated memory. */
export interface GeneratedMemory {
  /** Its terms, as `terms()` would read them from its text. */
  readonly terms: readonly string[];
  /**
   * Its `searchKey`, with ` . ` between sentences so that {@link generatedText} can rebuild the
   * text: the corpus keeps this one string per memory, not a text and a key.
   */
  readonly key: string;
}

/** What one generated thread is about: its sentences keep coming back to these. */
interface ThreadTheme {
  readonly topic: Topic;
  readonly person: string;
  readonly project: string;
}

/** A sentence as lowercase words, punctuation left to {@link generatedText}. */
type Template = (theme: ThreadTheme, random: Random) => string[];

const noun = (t: ThreadTheme, r: Random) => pick(r, t.topic.nouns);
const adjective = (t: ThreadTheme, r: Random) => pick(r, t.topic.adjectives);
// Mostly the thread's own person and project, sometimes another: threads overlap a little.
const person = (t: ThreadTheme, r: Random) => (r() < 0.7 ? t.person : pick(r, PEOPLE));
const project = (t: ThreadTheme, r: Random) => (r() < 0.7 ? t.project : pick(r, PROJECTS));

// prettier-ignore
const TEMPLATES: readonly Template[] = [
  (t, r) => [person(t, r), pick(r, VERBS), 'the', adjective(t, r), noun(t, r), 'for', project(t, r), 'on', pick(r, DAYS)],
  (t, r) => ['remember', 'that', person(t, r), 'prefers', 'the', noun(t, r), 'over', 'the', noun(t, r)],
  (t, r) => [project(t, r), 'needs', 'a', adjective(t, r), noun(t, r), 'before', pick(r, MONTHS), 'so', 'ask', person(t, r)],
  (t, r) => [person(t, r), 'said', 'the', noun(t, r), 'was', adjective(t, r), 'again', 'so', 'we', pick(r, VERBS), 'the', noun(t, r)],
  (t, r) => ['on', pick(r, DAYS), 'we', pick(r, VERBS), 'the', noun(t, r), 'and', 'the', noun(t, r), 'with', person(t, r)],
  (t, r) => ['the', adjective(t, r), noun(t, r), 'took', String(1 + Math.floor(r() * 90)), 'hours', 'in', pick(r, MONTHS)],
  (t, r) => [person(t, r), 'asked', 'about', 'the', noun(t, r), 'of', project(t, r), 'twice', 'this', 'week'],
];

/**
 * Generates short "memories" without end: one or two sentences each, built from templates and
 * the vocabulary, in threads of {@link GENERATED_THREAD_SIZE} that stay on one topic.
 *
 * Deterministic: the same seed gives the same sequence, so a corpus of `n` memories is the
 * first `n` of it. The terms come out with each memory, so indexing it needs no tokenizing.
 *
 * @param seed Seed of the PRNG.
 */
export function* generateMemories(seed = 1): Generator<GeneratedMemory, never> {
  const random = seededRandom(seed);
  for (let i = 0; ; i++) {
    const theme: ThreadTheme = {
      topic: pick(random, TOPICS),
      person: pick(random, PEOPLE),
      project: pick(random, PROJECTS),
    };
    for (let j = 0; j < GENERATED_THREAD_SIZE; j++) {
      const first = pick(random, TEMPLATES)(theme, random);
      if (random() < 0.4) {
        const second = pick(random, TEMPLATES)(theme, random);
        const key = ` ${first.join(' ')}${SENTENCE_BREAK}${second.join(' ')} `;
        yield { terms: [...first, ...second], key };
      } else {
        yield { terms: first, key: ` ${first.join(' ')} ` };
      }
    }
  }
}

/** The text of a generated memory from its key: sentences capitalized and ended with a period. */
export function generatedText(key: string): string {
  return key
    .trim()
    .split(SENTENCE_BREAK)
    .map((sentence) => `${sentence.charAt(0).toUpperCase()}${sentence.slice(1)}.`)
    .join(' ');
}
