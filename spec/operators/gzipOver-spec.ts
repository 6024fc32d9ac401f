import { gunzipSync, gzipSync } from 'node:zlib';
import { from, lastValueFrom, Observable, Subject, take, tap, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import fc from 'fast-check';
import { COMPRESSED_ENVELOPE_PREFIX, decodeFrames } from '../../operators/decodeFrame.js';
import {
  gzipOver,
  gzipSyncCompressor,
  inlineGzipCompressor,
  type GzipCompressor,
} from '../../operators/gzipOver.js';

const THRESHOLD = 10;
const LARGE = 'x'.repeat(40);
const OTHER_LARGE = 'y'.repeat(25) + 'z'.repeat(25);

const gzipped = (text: string, level = 1): Buffer => gzipSync(Buffer.from(text, 'utf8'), { level });
const envelope = (text: string, level = 1): string =>
  COMPRESSED_ENVELOPE_PREFIX + gzipped(text, level).toString('base64') + '"}';
const gunzipped = (frame: string | Uint8Array): string => {
  if (typeof frame === 'string') throw new Error(`expected bytes, got the text ${frame}`);
  return gunzipSync(frame).toString('utf8');
};

const sync = { compressor: gzipSyncCompressor };
const values = { a: 'a', b: 'b', c: 'c', L: LARGE, M: OTHER_LARGE };
const expected = { a: 'a', b: 'b', c: 'c', z: gzipped(LARGE), y: gzipped(OTHER_LARGE) };

/** A compressor whose compressions finish only when the test says so. */
function controlledCompressor() {
  interface Call {
    /** Finishes the compression; resolves once gzipOver has handled the result. */
    succeed(): Promise<void>;
    fail(error: Error): Promise<void>;
  }
  const calls: Call[] = [];
  const state = { inFlight: 0, maxInFlight: 0 };
  const compressor: GzipCompressor = (input, level) => {
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    let settle!: (outcome: () => Uint8Array) => void;
    const result = new Promise<Uint8Array>((resolve, reject) => {
      settle = (outcome) => {
        state.inFlight--;
        try {
          resolve(outcome());
        } catch (error) {
          reject(error);
        }
      };
    });
    // gzipOver's own reaction to `result` was registered first, so it has run by the time
    // a reaction registered here runs.
    const handled = () =>
      result.then(
        () => undefined,
        () => undefined,
      );
    calls.push({
      succeed: () => {
        settle(() => gzipSync(input, { level }));
        return handled();
      },
      fail: (error) => {
        settle(() => {
          throw error;
        });
        return handled();
      },
    });
    return result;
  };
  return { compressor, calls, state };
}

/** Records every notification an observer receives. */
function record<T>(observable: Observable<T>) {
  const log = { values: [] as T[], error: undefined as unknown, completed: false };
  const subscription = observable.subscribe({
    next: (value) => log.values.push(value),
    error: (error: unknown) => (log.error = error),
    complete: () => (log.completed = true),
  });
  return { log, subscription };
}

/** @test {gzipOver} */
describe('gzipOver', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, wanted) => expect(actual).toEqual(wanted));
  });

  describe('with the synchronous compressor (marbles)', () => {
    it('should gzip the frames over the threshold and pass the others unchanged', () => {
      testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
        const e1 = hot('  -a-L-b-M-c-|', values);
        const e1subs = '  ^----------!';
        const result = '  -a-z-b-y-c-|';

        expectObservable(e1.pipe(gzipOver(THRESHOLD, sync))).toBe(result, expected);
        expectSubscriptions(e1.subscriptions).toBe(e1subs);
      });
    });

    it('should handle never', () => {
      testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const e1 = cold(' -');
        const e1subs = '  ^';
        expectObservable(e1.pipe(gzipOver(THRESHOLD, sync))).toBe('-');
        expectSubscriptions(e1.subscriptions).toBe(e1subs);
      });
    });

    it('should handle a large value followed by never', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const e1 = cold(' -L-', values);
        expectObservable(e1.pipe(gzipOver(THRESHOLD, sync))).toBe('-z-', expected);
      });
    });

    it('should handle empty', () => {
      testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const e1 = cold(' |');
        const e1subs = '  (^!)';
        expectObservable(e1.pipe(gzipOver(THRESHOLD, sync))).toBe('|');
        expectSubscriptions(e1.subscriptions).toBe(e1subs);
      });
    });

    it('should handle one small value', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const e1 = cold(' (a|)', values);
        expectObservable(e1.pipe(gzipOver(THRESHOLD, sync))).toBe('(a|)', expected);
      });
    });

    it('should handle one large value', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const e1 = cold(' (L|)', values);
        expectObservable(e1.pipe(gzipOver(THRESHOLD, sync))).toBe('(z|)', expected);
      });
    });

    it('should handle many values emitted at once, in order', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const e1 = cold(' (aLbMc|)', values);
        expectObservable(e1.pipe(gzipOver(THRESHOLD, sync))).toBe('(azbyc|)', expected);
      });
    });

    it('should propagate the source error', () => {
      testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
        const e1 = hot('  -a-L-#', values, new Error('boom'));
        const e1subs = '  ^----!';
        expectObservable(e1.pipe(gzipOver(THRESHOLD, sync))).toBe(
          '-a-z-#',
          expected,
          new Error('boom'),
        );
        expectSubscriptions(e1.subscriptions).toBe(e1subs);
      });
    });

    it('should allow unsubscribing early and explicitly', () => {
      testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
        const e1 = hot('  -a-L-b-M-c-|', values);
        const unsub = '   -----!      ';
        const e1subs = '  ^----!      ';
        const result = '  -a-z--      ';
        expectObservable(e1.pipe(gzipOver(THRESHOLD, sync)), unsub).toBe(result, expected);
        expectSubscriptions(e1.subscriptions).toBe(e1subs);
      });
    });

    it('should unsubscribe from the source when a downstream take is satisfied', () => {
      testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
        const e1 = hot('  -a-L-b-|', values);
        const e1subs = '  ^--!    ';
        expectObservable(e1.pipe(gzipOver(THRESHOLD, sync), take(2))).toBe('-a-(z|)', expected);
        expectSubscriptions(e1.subscriptions).toBe(e1subs);
      });
    });

    it('should error when the compressor throws', () => {
      testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
        const e1 = hot('  -a-L-b-|', values);
        const e1subs = '  ^--!    ';
        const failing: GzipCompressor = () => {
          throw new Error('compressor broke');
        };
        expectObservable(e1.pipe(gzipOver(THRESHOLD, { compressor: failing }))).toBe(
          '-a-#',
          expected,
          new Error('compressor broke'),
        );
        expectSubscriptions(e1.subscriptions).toBe(e1subs);
      });
    });

    it('should emit the base64 envelope with encoding: base64', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const e1 = cold(' -a-L-|', values);
        expectObservable(e1.pipe(gzipOver(THRESHOLD, { ...sync, encoding: 'base64' }))).toBe(
          '-a-e-|',
          { a: 'a', e: envelope(LARGE) },
        );
      });
    });

    it('should compress at the given level', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const e1 = cold(' -L-|', values);
        expectObservable(e1.pipe(gzipOver(THRESHOLD, { ...sync, level: 9 }))).toBe('-z-|', {
          z: gzipped(LARGE, 9),
        });
      });
      // The gzip header records the level class, so the two levels differ for any input.
      expect(gzipped(LARGE, 9)).not.toEqual(gzipped(LARGE, 1));
    });
  });

  describe('threshold', () => {
    const run = (threshold: number, frame: string) => {
      const { log } = record(from([frame]).pipe(gzipOver(threshold, sync)));
      return log.values[0];
    };

    it('should pass a frame of exactly the threshold unchanged, as the same string', () => {
      expect(run(THRESHOLD, 'x'.repeat(THRESHOLD))).toBe('x'.repeat(THRESHOLD));
    });

    it('should gzip a frame one byte over the threshold', () => {
      const frame = 'x'.repeat(THRESHOLD + 1);
      expect(gunzipped(run(THRESHOLD, frame))).toBe(frame);
    });

    it('should measure UTF-8 bytes, not UTF-16 code units', () => {
      // 'é' is one code unit but two UTF-8 bytes.
      expect(run(THRESHOLD, 'é'.repeat(5))).toBe('é'.repeat(5));
      expect(gunzipped(run(THRESHOLD, 'é'.repeat(6)))).toBe('é'.repeat(6));
    });

    it('should gzip every non-empty frame with a threshold of 0', () => {
      expect(run(0, '')).toBe('');
      expect(gunzipped(run(0, 'a'))).toBe('a');
    });
  });

  describe('options', () => {
    it('should use level 1 by default and pass the configured level to the compressor', () => {
      const levels: number[] = [];
      const spy: GzipCompressor = (input, level) => {
        levels.push(level);
        return gzipSyncCompressor(input, level);
      };
      record(from([LARGE]).pipe(gzipOver(THRESHOLD, { compressor: spy })));
      record(from([LARGE]).pipe(gzipOver(THRESHOLD, { compressor: spy, level: -1 })));
      record(from([LARGE]).pipe(gzipOver(THRESHOLD, { compressor: spy, level: 9 })));
      expect(levels).toEqual([1, -1, 9]);
    });

    it('should hand the compressor the UTF-8 bytes of the frame', () => {
      const inputs: Buffer[] = [];
      const spy: GzipCompressor = (input, level) => {
        inputs.push(input);
        return gzipSyncCompressor(input, level);
      };
      const frame = '{"text":"héllo wörld ✓ 🎉"}';
      record(from([frame]).pipe(gzipOver(THRESHOLD, { compressor: spy })));
      expect(inputs).toEqual([Buffer.from(frame, 'utf8')]);
    });

    it('should write the envelope keys in the documented order', async () => {
      const output = await lastValueFrom(
        from([LARGE]).pipe(gzipOver(THRESHOLD, { encoding: 'base64' })),
      );
      expect(typeof output).toBe('string');
      const text = output as string;
      expect(text.startsWith(COMPRESSED_ENVELOPE_PREFIX)).toBe(true);
      const parsed = JSON.parse(text) as Record<string, unknown>;
      expect(Object.keys(parsed)).toEqual(['compressed', 'encoding', 'data']);
      expect(parsed.compressed).toBe(true);
      expect(parsed.encoding).toBe('gzip');
      expect(gunzipSync(Buffer.from(parsed.data as string, 'base64')).toString()).toBe(LARGE);
    });

    it('should base64 a Uint8Array that is a view into a larger buffer correctly', () => {
      const padded = new Uint8Array(100);
      const bytes = gzipped(LARGE);
      padded.set(bytes, 7);
      const view: GzipCompressor = () => padded.subarray(7, 7 + bytes.length);
      const { log } = record(
        from([LARGE]).pipe(gzipOver(THRESHOLD, { compressor: view, encoding: 'base64' })),
      );
      expect(log.values).toEqual([envelope(LARGE)]);
    });

    it.each([
      ['thresholdBytes -1', () => gzipOver(-1)],
      ['thresholdBytes NaN', () => gzipOver(NaN)],
      ['thresholdBytes Infinity', () => gzipOver(Infinity)],
      ['level -2', () => gzipOver(0, { level: -2 })],
      ['level 10', () => gzipOver(0, { level: 10 })],
      ['level 1.5', () => gzipOver(0, { level: 1.5 })],
      ['concurrency 0', () => gzipOver(0, { concurrency: 0 })],
      ['concurrency 1.5', () => gzipOver(0, { concurrency: 1.5 })],
      ['concurrency Infinity', () => gzipOver(0, { concurrency: Infinity })],
      ['encoding hex', () => gzipOver(0, { encoding: 'hex' as 'binary' })],
    ])('should throw a RangeError at creation for %s', (_name, create) => {
      expect(create).toThrow(RangeError);
    });

    it('should accept the boundary values', () => {
      expect(() => gzipOver(0, { level: -1, concurrency: 1 })).not.toThrow();
      expect(() => gzipOver(1e9, { level: 9, concurrency: 64 })).not.toThrow();
    });
  });

  describe('with an asynchronous compressor', () => {
    it('should pass a small frame synchronously when nothing is pending', () => {
      const source = new Subject<string>();
      const { log } = record(source.pipe(gzipOver(THRESHOLD)));
      source.next('a');
      expect(log.values).toEqual(['a']);
    });

    it('should hold small frames behind a large one until it is compressed (zlib)', async () => {
      const source = new Subject<string>();
      const emitted: (string | Uint8Array)[] = [];
      const output = lastValueFrom(
        source.pipe(
          gzipOver(THRESHOLD),
          tap((frame) => emitted.push(frame)),
          toArray(),
        ),
      );
      source.next('a');
      source.next(LARGE);
      source.next('b');
      source.next('c');
      source.complete();
      // Only what precedes the large frame can have come out synchronously.
      expect(emitted).toEqual(['a']);
      const frames = await output;
      expect(frames.length).toBe(4);
      expect(frames[0]).toBe('a');
      expect(gunzipped(frames[1])).toBe(LARGE);
      expect(frames.slice(2)).toEqual(['b', 'c']);
    });

    it('should keep order with several large frames compressing at once (zlib)', async () => {
      const input = ['a', LARGE, OTHER_LARGE, 'b', 'c'.repeat(5000), LARGE + 'd', 'e'];
      const frames = await lastValueFrom(
        from(input).pipe(gzipOver(THRESHOLD, { concurrency: 3 }), toArray()),
      );
      expect(frames.map((frame) => (typeof frame === 'string' ? frame : gunzipped(frame)))).toEqual(
        input,
      );
      expect(frames.map((frame) => typeof frame)).toEqual(
        input.map((text) => (text.length > THRESHOLD ? 'object' : 'string')),
      );
    });

    it('should reorder results that finish in reverse order', async () => {
      const { compressor, calls } = controlledCompressor();
      const source = new Subject<string>();
      const { log } = record(source.pipe(gzipOver(THRESHOLD, { compressor, concurrency: 3 })));
      source.next(LARGE);
      source.next(OTHER_LARGE);
      source.next('b');
      source.next(LARGE + 'c');
      source.next('d');
      expect(calls.length).toBe(3);

      await calls[2].succeed();
      await calls[1].succeed();
      expect(log.values).toEqual([]);

      await calls[0].succeed();
      expect(log.values.length).toBe(5);
      expect(gunzipped(log.values[0])).toBe(LARGE);
      expect(gunzipped(log.values[1])).toBe(OTHER_LARGE);
      expect(log.values[2]).toBe('b');
      expect(gunzipped(log.values[3])).toBe(LARGE + 'c');
      expect(log.values[4]).toBe('d');
    });

    it.each([1, 2, 3])(
      'should never have more than concurrency = %i compressions in flight',
      async (concurrency) => {
        const { compressor, calls, state } = controlledCompressor();
        const source = new Subject<string>();
        const { log } = record(source.pipe(gzipOver(THRESHOLD, { compressor, concurrency })));
        const input = Array.from({ length: 6 }, (_, i) => LARGE + i);
        input.forEach((frame) => source.next(frame));
        source.complete();
        expect(calls.length).toBe(concurrency);

        // Finish the newest unfinished compression each time, so that the oldest lingers and
        // every later frame has to be reordered behind it.
        const finished = new Set<number>();
        while (finished.size < input.length) {
          let newest = calls.length - 1;
          while (finished.has(newest)) newest--;
          finished.add(newest);
          await calls[newest].succeed();
          expect(state.inFlight).toBeLessThanOrEqual(concurrency);
          expect(calls.length).toBe(Math.min(input.length, finished.size + concurrency));
        }
        expect(state.maxInFlight).toBe(concurrency);
        expect(log.values.map(gunzipped)).toEqual(input);
        expect(log.completed).toBe(true);
      },
    );

    it('should complete only after every pending compression has been emitted', async () => {
      const { compressor, calls } = controlledCompressor();
      const source = new Subject<string>();
      const { log } = record(source.pipe(gzipOver(THRESHOLD, { compressor })));
      source.next(LARGE);
      source.next('b');
      source.complete();
      expect(log.completed).toBe(false);
      await calls[0].succeed();
      expect(log.values.length).toBe(2);
      expect(log.completed).toBe(true);
    });

    it('should error at once on a source error and drop pending compressions', async () => {
      const { compressor, calls } = controlledCompressor();
      const source = new Subject<string>();
      const { log } = record(source.pipe(gzipOver(THRESHOLD, { compressor, concurrency: 1 })));
      source.next(LARGE);
      source.next('b');
      source.next(OTHER_LARGE);
      source.error(new Error('source broke'));
      expect(log.error).toEqual(new Error('source broke'));
      await calls[0].succeed();
      expect(log.values).toEqual([]);
      // The frame that was waiting for a free slot is never compressed.
      expect(calls.length).toBe(1);
    });

    it('should not start waiting compressions after an unsubscribe', async () => {
      const { compressor, calls } = controlledCompressor();
      const source = new Subject<string>();
      const { log, subscription } = record(
        source.pipe(gzipOver(THRESHOLD, { compressor, concurrency: 1 })),
      );
      source.next(LARGE);
      source.next(OTHER_LARGE);
      subscription.unsubscribe();
      await calls[0].succeed();
      expect(calls.length).toBe(1);
      expect(log).toEqual({ values: [], error: undefined, completed: false });
    });

    it('should error when a compression rejects, and unsubscribe from the source', async () => {
      const { compressor, calls } = controlledCompressor();
      const source = new Subject<string>();
      const { log } = record(source.pipe(gzipOver(THRESHOLD, { compressor })));
      source.next('a');
      source.next(LARGE);
      source.next('b');
      await calls[0].fail(new Error('zlib broke'));
      expect(log.values).toEqual(['a']);
      expect(log.error).toEqual(new Error('zlib broke'));
      expect(source.observed).toBe(false);
    });

    it('should error when zlib reports an error through its callback', async () => {
      const zlib: typeof import('node:zlib') = jest.requireActual('node:zlib');
      const gzipSpy = jest
        .spyOn(zlib, 'gzip')
        .mockImplementation(((_input: unknown, _options: unknown, callback: (e: Error) => void) =>
          callback(new Error('zlib callback error'))) as unknown as typeof zlib.gzip);
      try {
        await expect(lastValueFrom(from([LARGE]).pipe(gzipOver(THRESHOLD)))).rejects.toThrow(
          'zlib callback error',
        );
        expect(gzipSpy).toHaveBeenCalledTimes(1);
      } finally {
        gzipSpy.mockRestore();
      }
    });

    it('should emit nothing after an unsubscribe while compressing (zlib)', async () => {
      const compressions: Promise<Uint8Array>[] = [];
      const realZlib: GzipCompressor = (input, level) => {
        const compression = new Promise<Uint8Array>((resolve, reject) =>
          jest
            .requireActual<typeof import('node:zlib')>('node:zlib')
            .gzip(input, { level }, (error, result) => (error ? reject(error) : resolve(result))),
        );
        compressions.push(compression);
        return compression;
      };
      const source = new Subject<string>();
      const { log, subscription } = record(
        source.pipe(gzipOver(THRESHOLD, { compressor: realZlib })),
      );
      source.next(LARGE);
      source.next('b');
      subscription.unsubscribe();
      expect(source.observed).toBe(false);
      await Promise.all(compressions);
      expect(compressions.length).toBe(1);
      expect(log).toEqual({ values: [], error: undefined, completed: false });
    });

    it('should neither emit nor throw when a compression settles after unsubscribe', () => {
      const reactions: { onFulfilled: (bytes: Uint8Array) => unknown; onRejected: unknown }[] = [];
      const thenable: GzipCompressor = () => ({
        then(onFulfilled, onRejected) {
          reactions.push({ onFulfilled: onFulfilled!, onRejected });
          return thenable as never;
        },
      });
      const source = new Subject<string>();
      const { log, subscription } = record(
        source.pipe(gzipOver(THRESHOLD, { compressor: thenable })),
      );
      source.next(LARGE);
      source.next(OTHER_LARGE);
      subscription.unsubscribe();
      expect(reactions.length).toBe(2);
      // A rejection handler is always attached, so a failure never goes unhandled.
      expect(typeof reactions[1].onRejected).toBe('function');
      expect(() => reactions[0].onFulfilled(gzipped(LARGE))).not.toThrow();
      expect(() =>
        (reactions[1].onRejected as (e: Error) => void)(new Error('late')),
      ).not.toThrow();
      expect(log).toEqual({ values: [], error: undefined, completed: false });
    });
  });

  describe('onPending', () => {
    it('should report the bytes it holds as frames enter, and release them only once emitted', async () => {
      const { compressor, calls } = controlledCompressor();
      const source = new Subject<string>();
      const events: Array<string | number> = [];
      source
        .pipe(gzipOver(THRESHOLD, { compressor, onPending: (bytes) => events.push(bytes) }))
        .subscribe((frame) => events.push(typeof frame === 'string' ? frame : 'gzip'));
      const large = Buffer.byteLength(LARGE);

      source.next('a');
      source.next(LARGE);
      source.next('b');
      expect(events).toEqual(['a', large, large + 1]);
      await calls[0].succeed();

      // Emitted first, then released: a consumer counting both never sees a dip.
      expect(events).toEqual(['a', large, large + 1, 'gzip', 'b', 0]);
    });

    it('should say nothing for frames that pass straight through', () => {
      const onPending = jest.fn();
      testScheduler.run(({ cold, expectObservable }) => {
        const source = cold('-a-b-|', { a: 'small', b: 'x' });
        expectObservable(source.pipe(gzipOver(THRESHOLD, { onPending }))).toBe('-a-b-|', {
          a: 'small',
          b: 'x',
        });
      });
      expect(onPending).not.toHaveBeenCalled();
    });

    it('should report 0 when unsubscribed while it holds frames', () => {
      const { compressor } = controlledCompressor();
      const reports: number[] = [];
      const source = new Subject<string>();
      const subscription = source
        .pipe(gzipOver(THRESHOLD, { compressor, onPending: (bytes) => reports.push(bytes) }))
        .subscribe();

      source.next(LARGE);
      subscription.unsubscribe();

      expect(reports).toEqual([Buffer.byteLength(LARGE), 0]);
    });

    it('should report the UTF-8 size, not the string length', () => {
      const { compressor } = controlledCompressor();
      const reports: number[] = [];
      const source = new Subject<string>();
      source
        .pipe(gzipOver(10, { compressor, onPending: (bytes) => reports.push(bytes) }))
        .subscribe();

      source.next('é'.repeat(10));

      expect(reports).toEqual([20]);
    });

    it('should throw at creation when onPending is not a function', () => {
      expect(() => gzipOver(THRESHOLD, { onPending: 5 as unknown as () => void })).toThrow(
        TypeError,
      );
    });
  });

  describe('inlineGzipCompressor', () => {
    it('should compress frames up to the limit synchronously, and larger ones asynchronously', async () => {
      const compressor = inlineGzipCompressor(100);
      const atLimit = Buffer.from('a'.repeat(100));
      const overLimit = Buffer.from('b'.repeat(101));

      const inline = compressor(atLimit, 1);
      expect(inline).toBeInstanceOf(Uint8Array);
      expect(gunzipSync(inline as Uint8Array).toString()).toBe(atLimit.toString());

      const pooled = compressor(overLimit, 1);
      expect(pooled).toBeInstanceOf(Promise);
      expect(gunzipSync(await pooled).toString()).toBe(overLimit.toString());
    });

    it('should make gzipOver emit a frame under the limit in the same turn', () => {
      const received: Array<string | Uint8Array> = [];
      const source = new Subject<string>();
      source
        .pipe(gzipOver(10, { compressor: inlineGzipCompressor(1_000) }))
        .subscribe((frame) => received.push(frame));

      source.next('x'.repeat(500));
      expect(received).toHaveLength(1);
      expect(gunzipSync(received[0] as Uint8Array).toString()).toBe('x'.repeat(500));
    });

    it('should throw a RangeError for a negative limit', () => {
      expect(() => inlineGzipCompressor(-1)).toThrow(RangeError);
    });
  });

  describe('reentrancy', () => {
    it('should keep order when a downstream next pushes into the source (sync compressor)', () => {
      const source = new Subject<string>();
      const seen: (string | Uint8Array)[] = [];
      source.pipe(gzipOver(THRESHOLD, sync)).subscribe((frame) => {
        seen.push(frame);
        if (frame === 'a') {
          source.next(LARGE);
          source.next('b');
        }
      });
      source.next('a');
      source.next('c');
      expect(seen).toEqual(['a', gzipped(LARGE), 'b', 'c']);
    });

    it('should emit a frame pushed during a drain after the frames already queued', async () => {
      const { compressor, calls } = controlledCompressor();
      const source = new Subject<string>();
      const seen: (string | Uint8Array)[] = [];
      source.pipe(gzipOver(THRESHOLD, { compressor })).subscribe((frame) => {
        seen.push(frame);
        if (typeof frame !== 'string') {
          // Pushed while 'b' and 'd' still wait in the queue.
          source.next('c');
          source.complete();
        }
      });
      source.next(LARGE);
      source.next('b');
      source.next('d');
      await calls[0].succeed();
      expect(seen.map((frame) => (typeof frame === 'string' ? frame : gunzipped(frame)))).toEqual([
        LARGE,
        'b',
        'd',
        'c',
      ]);
    });

    it('should start a compression pushed from inside a downstream next', async () => {
      const { compressor, calls } = controlledCompressor();
      const source = new Subject<string>();
      const seen: string[] = [];
      source.pipe(gzipOver(THRESHOLD, { compressor, concurrency: 1 })).subscribe((frame) => {
        seen.push(typeof frame === 'string' ? frame : gunzipped(frame));
        if (frame === 'b') source.next(OTHER_LARGE);
      });
      source.next(LARGE);
      source.next('b');
      await calls[0].succeed();
      expect(seen).toEqual([LARGE, 'b']);
      expect(calls.length).toBe(2);
      await calls[1].succeed();
      expect(seen).toEqual([LARGE, 'b', OTHER_LARGE]);
    });
  });

  describe('properties', () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 12 });
    const frameArbitrary = (threshold: number) =>
      fc.oneof(
        text,
        fc
          .tuple(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }), fc.nat({ max: 50 }))
          .map(([piece, extra]) => {
            const copies = Math.ceil((threshold + 1) / Buffer.byteLength(piece)) + extra;
            return piece.repeat(copies);
          }),
      );
    const scenario = fc.nat({ max: 40 }).chain((threshold) =>
      fc.record({
        threshold: fc.constant(threshold),
        frames: fc.array(frameArbitrary(threshold), { maxLength: 25 }),
        encoding: fc.constantFrom('binary' as const, 'base64' as const),
        concurrency: fc.integer({ min: 1, max: 4 }),
      }),
    );

    const checkShapes = (
      frames: string[],
      output: (string | Uint8Array)[],
      threshold: number,
      encoding: 'binary' | 'base64',
    ) => {
      expect(output.length).toBe(frames.length);
      output.forEach((frame, i) => {
        if (Buffer.byteLength(frames[i]) <= threshold) {
          expect(frame).toBe(frames[i]);
        } else if (encoding === 'binary') {
          expect(frame).toBeInstanceOf(Uint8Array);
        } else {
          expect(String(frame).startsWith(COMPRESSED_ENVELOPE_PREFIX)).toBe(true);
        }
      });
    };

    it('should decode back to the input, in order, whatever order compressions finish in', async () => {
      await fc.assert(
        fc.asyncProperty(
          scenario,
          fc.scheduler(),
          async ({ threshold, frames, encoding, concurrency }, s) => {
            let inFlight = 0;
            let maxInFlight = 0;
            const compressor: GzipCompressor = (input, level) => {
              inFlight++;
              maxInFlight = Math.max(maxInFlight, inFlight);
              return s.schedule(Promise.resolve(), 'gzip').then(() => {
                inFlight--;
                return gzipSync(input, { level });
              });
            };
            const output = await s.waitFor(
              lastValueFrom(
                from(frames).pipe(
                  gzipOver(threshold, { compressor, encoding, concurrency }),
                  toArray(),
                ),
              ),
            );
            checkShapes(frames, output, threshold, encoding);
            expect(maxInFlight).toBeLessThanOrEqual(concurrency);
            const decoded = await lastValueFrom(from(output).pipe(decodeFrames(), toArray()));
            expect(decoded).toEqual(frames);
          },
        ),
        { numRuns: 60 },
      );
    });

    it('should decode back to the input, synchronously, with the sync compressor', async () => {
      await fc.assert(
        fc.asyncProperty(scenario, async ({ threshold, frames, encoding, concurrency }) => {
          const { log } = record(
            from(frames).pipe(
              gzipOver(threshold, { compressor: gzipSyncCompressor, encoding, concurrency }),
            ),
          );
          expect(log.completed).toBe(true);
          checkShapes(frames, log.values, threshold, encoding);
          const decoded = await lastValueFrom(from(log.values).pipe(decodeFrames(), toArray()));
          expect(decoded).toEqual(frames);
        }),
        { numRuns: 60 },
      );
    });
  });
});
