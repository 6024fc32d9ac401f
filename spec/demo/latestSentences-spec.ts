import { latestSentences } from '../../examples/demo/memory/operations.js';

describe('latestSentences', () => {
  it('reads whole messages, newest first, up to maxChars, in the thread order', () => {
    const thread = ['Old one. Old two.', 'Mid.', 'New one! New two?'];
    expect(latestSentences(thread, 100, 100)).toEqual([
      'Old one.',
      'Old two.',
      'Mid.',
      'New one!',
      'New two?',
    ]);
    // 17 + 4 characters fit in 21, the oldest message does not.
    expect(latestSentences(thread, 21, 100)).toEqual(['Mid.', 'New one!', 'New two?']);
  });

  it('always reads the newest message, even one longer than maxChars', () => {
    expect(latestSentences(['Before.', 'A long last message.'], 5, 100)).toEqual([
      'A long last message.',
    ]);
  });

  it('keeps the last maxSentences sentences', () => {
    const thread = ['One. Two. Three.', 'Four. Five.'];
    expect(latestSentences(thread, 100, 3)).toEqual(['Three.', 'Four.', 'Five.']);
  });

  it('reads nothing of an empty thread', () => {
    expect(latestSentences([], 100, 100)).toEqual([]);
  });
});
