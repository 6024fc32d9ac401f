import { TestScheduler } from 'rxjs/testing';
import { TokenBucket } from '../../src/index.js';

describe('TokenBucket', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  /** Takes `count` tokens at virtual time `time`; records how many were granted. */
  function takeAt(bucket: () => TokenBucket, time: number, count: number, granted: number[]) {
    testScheduler.schedule(() => {
      let ok = 0;
      for (let i = 0; i < count; i++) if (bucket().take()) ok++;
      granted.push(ok);
    }, time);
  }

  it('should grant a full burst at once, then refill at perSecond in virtual time', () => {
    const granted: number[] = [];
    testScheduler.run(() => {
      const bucket = new TokenBucket({ burst: 2_000, perSecond: 100 }, () => testScheduler.now());
      takeAt(() => bucket, 0, 2_001, granted); // the burst, and one over
      takeAt(() => bucket, 9, 1, granted); // 0.9 tokens: not yet
      takeAt(() => bucket, 10, 2, granted); // 1.0 token at 10 ms
      takeAt(() => bucket, 1_010, 101, granted); // 100 tokens in the next second
    });

    expect(granted).toEqual([2_000, 0, 1, 100]);
  });

  it('should refill in exact steps: ten 1 ms refills of 0.1 token make one token', () => {
    const granted: number[] = [];
    testScheduler.run(() => {
      const bucket = new TokenBucket({ burst: 1, perSecond: 100 }, () => testScheduler.now());
      takeAt(() => bucket, 0, 1, granted);
      for (let t = 1; t <= 9; t++) takeAt(() => bucket, t, 1, granted);
      takeAt(() => bucket, 10, 1, granted);
    });

    expect(granted).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  });

  it('should never hold more than burst, however long it was idle', () => {
    const granted: number[] = [];
    testScheduler.run(() => {
      const bucket = new TokenBucket({ burst: 50, perSecond: 100 }, () => testScheduler.now());
      takeAt(() => bucket, 0, 50, granted);
      takeAt(() => bucket, 3_600_000, 51, granted);
    });

    expect(granted).toEqual([50, 50]);
  });

  it('should not lose tokens when the clock steps back', () => {
    let now = 1_000;
    const bucket = new TokenBucket({ burst: 2, perSecond: 1 }, () => now);
    expect(bucket.take()).toBe(true);
    now = 0;
    expect(bucket.available()).toBe(1);
    now = 1_000;
    expect(bucket.available()).toBe(2);
  });

  it('should take several tokens at once, or none when it holds fewer', () => {
    let now = 0;
    const bucket = new TokenBucket({ burst: 10, perSecond: 2 }, () => now);
    expect(bucket.take(7)).toBe(true);
    expect(bucket.take(4)).toBe(false); // 3 left: nothing taken
    expect(bucket.available()).toBe(3);
    now = 500; // one more token
    expect(bucket.take(4)).toBe(true);
    expect(bucket.available()).toBe(0);
    now = 10_000;
    expect(bucket.take(10)).toBe(true); // a whole burst, once full
    expect(bucket.burst).toBe(10);
  });

  it.each([0, -1, 1.5, 11, NaN])('should refuse to take %p tokens of a burst of 10', (count) => {
    const bucket = new TokenBucket({ burst: 10, perSecond: 1 }, () => 0);
    expect(() => bucket.take(count)).toThrow(RangeError);
    expect(bucket.available()).toBe(10);
  });

  it.each([
    [{ burst: 0, perSecond: 1 }],
    [{ burst: 1.5, perSecond: 1 }],
    [{ burst: 1, perSecond: 0 }],
    [{ burst: 1, perSecond: Infinity }],
    [{ burst: 1, perSecond: NaN }],
  ])('should refuse the limit %j', (limit) => {
    expect(() => new TokenBucket(limit, () => 0)).toThrow(RangeError);
  });
});
