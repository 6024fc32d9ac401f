import { MAX_RESUME_LENGTH, MAX_RESUME_TOPICS } from '../../src/client/index.js';
import { resumeValue, withQueryParameter } from '../../src/client/resume.js';

describe('resumeValue', () => {
  it('should be undefined when there is nothing to resume', () => {
    expect(resumeValue([])).toBeUndefined();
  });

  it('should write {"<topic>":["<epoch>",<offset>]} in the order given', () => {
    const value = resumeValue([
      ['session:u1', { epoch: 'e1', offset: 41 }],
      ['room:"x"', { epoch: 'e2', offset: 0 }],
    ]);
    expect(value).toBe('{"session:u1":["e1",41],"room:\\"x\\"":["e2",0]}');
    expect(Object.keys(JSON.parse(value!) as object)).toEqual(['session:u1', 'room:"x"']);
  });

  it('should stop at MAX_RESUME_TOPICS and stay within MAX_RESUME_LENGTH once encoded', () => {
    const many = Array.from(
      { length: 50 },
      (_, i) => [`t:${i}`, { epoch: 'e', offset: i }] as const,
    );
    expect(Object.keys(JSON.parse(resumeValue(many)!) as object)).toHaveLength(MAX_RESUME_TOPICS);
    const long = Array.from(
      { length: 20 },
      (_, i) => [`t:${i}:${'ü'.repeat(100)}`, { epoch: 'e', offset: i }] as const,
    );
    const value = resumeValue(long)!;
    expect(encodeURIComponent(value).length).toBeLessThanOrEqual(MAX_RESUME_LENGTH);
    // As many as fit, the first ones: one more would not.
    const kept = Object.keys(JSON.parse(value) as object);
    expect(kept).toEqual(long.slice(0, kept.length).map(([topic]) => topic));
    const oneMore = Object.fromEntries(
      long.slice(0, kept.length + 1).map(([topic, { epoch, offset }]) => [topic, [epoch, offset]]),
    );
    expect(encodeURIComponent(JSON.stringify(oneMore)).length).toBeGreaterThan(MAX_RESUME_LENGTH);
  });

  it('should skip a topic that cannot fit alone and keep the others', () => {
    const value = resumeValue([
      ['x'.repeat(5000), { epoch: 'e', offset: 1 }],
      ['room:a', { epoch: 'e', offset: 2 }],
    ]);
    expect(JSON.parse(value!)).toEqual({ 'room:a': ['e', 2] });
  });

  it('should encode a topic with a lone surrogate without throwing', () => {
    const value = resumeValue([['bad:\ud800', { epoch: 'e', offset: 1 }]])!;
    expect(() => encodeURIComponent(value)).not.toThrow();
  });
});

describe('withQueryParameter', () => {
  it.each([
    ['ws://h/ws', 'ws://h/ws?resume=%7B%7D'],
    ['ws://h/ws?', 'ws://h/ws?resume=%7B%7D'],
    ['ws://h/ws?token=a%2Bb&x', 'ws://h/ws?token=a%2Bb&x&resume=%7B%7D'],
    ['ws://h/ws?resume=old&token=t', 'ws://h/ws?token=t&resume=%7B%7D'],
    ['ws://h/ws?resumes=1', 'ws://h/ws?resumes=1&resume=%7B%7D'],
    ['/ws?token=t', '/ws?token=t&resume=%7B%7D'],
    ['ws://h/ws?token=t#frag', 'ws://h/ws?token=t&resume=%7B%7D#frag'],
  ])('should add the parameter to %s, keeping the rest as it is', (url, expected) => {
    expect(withQueryParameter(url, 'resume', '{}')).toBe(expected);
  });
});
