import { gzipSync } from 'node:zlib';
import { from, lastValueFrom, Observable, Subject, take, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import fc from 'fast-check';
import {
  COMPRESSED_ENVELOPE_PREFIX,
  decodeFrame,
  decodeFrames,
} from '../../operators/decodeFrame.js';

type Frame = string | Uint8Array | ArrayBuffer | Buffer[];

const TEXT = '{"type":"hello","text":"héllo wörld ✓ 🎉"}\n{"type":"bye"}';
const gzipped = (text: string): Buffer => gzipSync(Buffer.from(text, 'utf8'));
const envelope = (text: string): string =>
  COMPRESSED_ENVELOPE_PREFIX + gzipped(text).toString('base64') + '"}';

/** The same gzip bytes in each shape `ws` can hand a 'message' listener. */
const binaryShapes = (bytes: Buffer): [string, Frame][] => {
  const padded = new Uint8Array(bytes.length + 16);
  padded.set(bytes, 8);
  const arrayBuffer = new ArrayBuffer(bytes.length);
  new Uint8Array(arrayBuffer).set(bytes);
  const cut = Math.floor(bytes.length / 3);
  return [
    ['a Buffer', bytes],
    ['a Uint8Array viewing part of a larger buffer', padded.subarray(8, 8 + bytes.length)],
    ['an ArrayBuffer', arrayBuffer],
    [
      'a Buffer[] of fragments',
      [bytes.subarray(0, cut), bytes.subarray(cut, 2 * cut), bytes.subarray(2 * cut)],
    ],
  ];
};

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

/** Resolves once a notification has reached the log. */
const settled = <T>(observable: Observable<T>) =>
  new Promise<void>((resolve) =>
    observable.subscribe({ complete: resolve, error: () => resolve() }),
  );

/** @test {decodeFrame} */
describe('decodeFrame', () => {
  it.each(binaryShapes(gzipped(TEXT)))(
    'should gunzip %s to its UTF-8 text',
    async (_name, frame) => {
      await expect(decodeFrame(frame)).resolves.toBe(TEXT);
    },
  );

  it('should unwrap and gunzip a base64 envelope', async () => {
    await expect(decodeFrame(envelope(TEXT))).resolves.toBe(TEXT);
  });

  it('should gunzip an empty text', async () => {
    await expect(decodeFrame(gzipped(''))).resolves.toBe('');
    await expect(decodeFrame(envelope(''))).resolves.toBe('');
  });

  it.each([
    ['an empty string', ''],
    ['NDJSON', TEXT],
    [
      'a message shaped like an envelope whose data is not gzip',
      `${COMPRESSED_ENVELOPE_PREFIX}abc"}`,
    ],
    [
      'an NDJSON batch whose first value looks like an envelope',
      `${envelope('x')}\n{"type":"next"}`,
    ],
    ['an envelope without its closing', envelope(TEXT).slice(0, -2)],
    ['an envelope prefix with data that is not base64', `${COMPRESSED_ENVELOPE_PREFIX}H4sI "}`],
  ])('should return %s unchanged', async (_name, text) => {
    await expect(decodeFrame(text)).resolves.toBe(text);
  });

  it('should reject bytes that are not gzip', async () => {
    await expect(decodeFrame(Buffer.from('not gzip'))).rejects.toThrow();
  });

  it('should reject an envelope whose gzip is corrupt', async () => {
    const corrupt = gzipped(TEXT);
    corrupt.fill(0, 10, 20);
    const frame = COMPRESSED_ENVELOPE_PREFIX + corrupt.toString('base64') + '"}';
    await expect(decodeFrame(frame)).rejects.toThrow();
  });
});

/** @test {decodeFrames} */
describe('decodeFrames', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, wanted) => expect(actual).toEqual(wanted));
  });

  describe('with text frames only (marbles)', () => {
    it('should pass plain text frames through synchronously', () => {
      testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
        const e1 = hot('  -a-b-c-|');
        const e1subs = '  ^------!';
        expectObservable(e1.pipe(decodeFrames())).toBe('-a-b-c-|');
        expectSubscriptions(e1.subscriptions).toBe(e1subs);
      });
    });

    it('should handle never', () => {
      testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const e1 = cold(' -');
        expectObservable(e1.pipe(decodeFrames())).toBe('-');
        expectSubscriptions(e1.subscriptions).toBe('^');
      });
    });

    it('should handle empty', () => {
      testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const e1 = cold(' |');
        expectObservable(e1.pipe(decodeFrames())).toBe('|');
        expectSubscriptions(e1.subscriptions).toBe('(^!)');
      });
    });

    it('should handle one value', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        expectObservable(cold('(a|)').pipe(decodeFrames())).toBe('(a|)');
      });
    });

    it('should propagate the source error', () => {
      testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
        const e1 = hot('  -a-#');
        const e1subs = '  ^--!';
        expectObservable(e1.pipe(decodeFrames())).toBe('-a-#');
        expectSubscriptions(e1.subscriptions).toBe(e1subs);
      });
    });

    it('should allow unsubscribing early and explicitly', () => {
      testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
        const e1 = hot('  -a-b-c-|');
        const unsub = '   ----!   ';
        const e1subs = '  ^---!   ';
        expectObservable(e1.pipe(decodeFrames()), unsub).toBe('-a-b-');
        expectSubscriptions(e1.subscriptions).toBe(e1subs);
      });
    });
  });

  describe('with compressed frames', () => {
    it('should decode every kind of frame, in order', async () => {
      const frames: Frame[] = [
        'plain',
        ...binaryShapes(gzipped(TEXT)).map(([, frame]) => frame),
        envelope('from base64'),
        'last',
      ];
      const texts = await lastValueFrom(from(frames).pipe(decodeFrames(), toArray()));
      expect(texts).toEqual(['plain', TEXT, TEXT, TEXT, TEXT, 'from base64', 'last']);
    });

    it('should hold a text frame behind a frame being gunzipped', async () => {
      const source = new Subject<Frame>();
      const decoded = source.pipe(decodeFrames());
      const { log } = record(decoded);
      const done = settled(decoded);
      source.next('a');
      source.next(gzipped(TEXT));
      source.next('b');
      source.complete();
      expect(log.values).toEqual(['a']);
      expect(log.completed).toBe(false);
      await done;
      expect(log.values).toEqual(['a', TEXT, 'b']);
      expect(log.completed).toBe(true);
    });

    it('should error when a frame cannot be gunzipped, and unsubscribe from the source', async () => {
      const source = new Subject<Frame>();
      const decoded = source.pipe(decodeFrames());
      const { log } = record(decoded);
      const done = settled(decoded);
      source.next(Buffer.from('not gzip'));
      source.next('b');
      await done;
      expect(log.values).toEqual([]);
      // zlib's errors come from another realm than jest's `Error`.
      expect(log.error).toMatchObject({ code: 'Z_DATA_ERROR' });
      expect(source.observed).toBe(false);
    });

    describe('with gunzip under the control of the test', () => {
      type GunzipCallback = (error: Error | null, result: Buffer) => void;
      const zlib: typeof import('node:zlib') = jest.requireActual('node:zlib');
      let pending: { input: Buffer; callback: GunzipCallback }[];
      let gunzipSpy: jest.SpyInstance;

      beforeEach(() => {
        pending = [];
        gunzipSpy = jest.spyOn(zlib, 'gunzip').mockImplementation(((
          input: Buffer,
          callback: GunzipCallback,
        ) => {
          pending.push({ input, callback });
        }) as unknown as typeof zlib.gunzip);
      });

      afterEach(() => gunzipSpy.mockRestore());

      /** Lets every promise reaction that is already due run. */
      const flushPromises = () => new Promise<void>((resolve) => setImmediate(resolve));
      const finish = async (index: number) => {
        pending[index].callback(null, zlib.gunzipSync(pending[index].input));
        await flushPromises();
      };

      it('should gunzip one frame at a time, in order', async () => {
        const source = new Subject<Frame>();
        const { log } = record(source.pipe(decodeFrames()));
        source.next(gzipped('one'));
        source.next(envelope('two'));
        source.next('three');
        expect(pending.length).toBe(1);
        await finish(0);
        expect(log.values).toEqual(['one']);
        expect(pending.length).toBe(2);
        await finish(1);
        expect(log.values).toEqual(['one', 'two', 'three']);
      });

      it('should error at once on a source error and drop the frame being gunzipped', async () => {
        const source = new Subject<Frame>();
        const { log } = record(source.pipe(decodeFrames()));
        source.next(gzipped(TEXT));
        source.next('b');
        source.error(new Error('source broke'));
        expect(log.error).toEqual(new Error('source broke'));
        await finish(0);
        expect(log.values).toEqual([]);
      });

      it('should emit nothing after an unsubscribe while gunzipping', async () => {
        const source = new Subject<Frame>();
        const { log, subscription } = record(source.pipe(decodeFrames()));
        source.next(gzipped(TEXT));
        source.next('b');
        subscription.unsubscribe();
        expect(source.observed).toBe(false);
        await finish(0);
        expect(pending.length).toBe(1);
        expect(log).toEqual({ values: [], error: undefined, completed: false });
      });

      it('should neither emit nor reject unhandled when a gunzip fails after unsubscribe', async () => {
        const unhandled = jest.fn();
        process.on('unhandledRejection', unhandled);
        try {
          const source = new Subject<Frame>();
          const { log, subscription } = record(source.pipe(decodeFrames()));
          source.next(gzipped(TEXT));
          subscription.unsubscribe();
          pending[0].callback(new Error('late failure'), Buffer.alloc(0));
          await flushPromises();
          await flushPromises();
          expect(unhandled).not.toHaveBeenCalled();
          expect(log).toEqual({ values: [], error: undefined, completed: false });
        } finally {
          process.off('unhandledRejection', unhandled);
        }
      });
    });

    it('should keep order when a downstream next pushes into the source', async () => {
      const source = new Subject<Frame>();
      const seen: string[] = [];
      await new Promise<void>((resolve) => {
        source.pipe(decodeFrames(), take(4)).subscribe({
          next: (text) => {
            seen.push(text);
            // Pushed while 'b' waits behind the gzip frame pushed from 'a'.
            if (text === TEXT) source.next('c');
            if (text === 'a') source.next(gzipped(TEXT));
          },
          complete: resolve,
        });
        source.next('a');
        source.next('b');
      });
      expect(seen).toEqual(['a', TEXT, 'b', 'c']);
    });
  });

  describe('properties', () => {
    it('should give back every text, in order, whatever the frame shapes', async () => {
      const text = fc.string({ unit: 'grapheme', maxLength: 40 });
      const shape = fc.constantFrom('text', 'buffer', 'view', 'arrayBuffer', 'fragments', 'base64');
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(text, shape), { maxLength: 20 }), async (items) => {
          const frames = items.map(([value, kind]): Frame => {
            if (kind === 'text') return value;
            if (kind === 'base64') return envelope(value);
            const shapes = binaryShapes(gzipped(value));
            return shapes[['buffer', 'view', 'arrayBuffer', 'fragments'].indexOf(kind)][1];
          });
          const texts = await lastValueFrom(from(frames).pipe(decodeFrames(), toArray()));
          expect(texts).toEqual(items.map(([value]) => value));
        }),
        { numRuns: 60 },
      );
    });
  });
});
