import fc from 'fast-check';
import fastJson from 'fast-json-stringify';
import { from, mergeMap, of, Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { ndjson } from '../../operators/ndjson.js';
import { isRawJson, RawJson } from '../../operators/rawJson.js';
import { parseNdjson } from '../../operators/fromNdjson.js';

// Counts compilations while still compiling for real.
jest.mock('fast-json-stringify', () => {
  const actual = jest.requireActual('fast-json-stringify');
  return jest.fn((...args: unknown[]) => actual(...args));
});

interface Reported {
  error: unknown;
  value: unknown;
}

function recordErrors(): {
  reported: Reported[];
  onError: (error: unknown, value: unknown) => void;
} {
  const reported: Reported[] = [];
  return { reported, onError: (error, value) => reported.push({ error, value }) };
}

function circular(): Record<string, unknown> {
  const value: Record<string, unknown> = { name: 'loop' };
  value.self = value;
  return value;
}

/** Emits synchronously, so a plain subscribe collects everything. */
function encodeAll<T>(batches: readonly (readonly T[])[], operator = ndjson<T>()): string[] {
  const texts: string[] = [];
  from(batches)
    .pipe(operator)
    .subscribe((text) => texts.push(text));
  return texts;
}

/** JSON has no -0: `JSON.stringify(-0)` is "0", and toEqual tells 0 from -0. */
function withoutNegativeZero(value: unknown): unknown {
  if (Object.is(value, -0)) {
    return 0;
  }
  if (Array.isArray(value)) {
    return value.map(withoutNegativeZero);
  }
  if (value !== null && typeof value === 'object') {
    const copy: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      Object.defineProperty(copy, key, {
        value: withoutNegativeZero((value as Record<string, unknown>)[key]),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return copy;
  }
  return value;
}

function countNewlines(text: string): number {
  return text.split('\n').length - 1;
}

const messageSchema = {
  type: 'object',
  properties: {
    type: { type: 'string' },
    id: { type: 'integer' },
  },
  required: ['type', 'id'],
} as const;

describe('ndjson', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  it('should emit one NDJSON text per batch, joined with "\\n" and without a trailing newline', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const e1 = cold('-a-b|', { a: [1, 2], b: [{ x: 1 }] });
      const e1subs = '  ^---!';
      const expected = '-a-b|';

      expectObservable(e1.pipe(ndjson<unknown>())).toBe(expected, { a: '1\n2', b: '{"x":1}' });
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
    });
  });

  it('should handle never', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const e1 = cold<number[]>('-');
      const e1subs = '  ^';
      const expected = '-';

      expectObservable(e1.pipe(ndjson())).toBe(expected);
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
    });
  });

  it('should handle empty', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const e1 = cold<number[]>('|');
      const e1subs = '  (^!)';
      const expected = '|';

      expectObservable(e1.pipe(ndjson())).toBe(expected);
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
    });
  });

  it('should serialize a batch of one value without any newline', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const e1 = cold('-a|', { a: ['just one'] });
      const expected = '-a|';

      expectObservable(e1.pipe(ndjson())).toBe(expected, { a: '"just one"' });
    });
  });

  it('should serialize many values of every JSON kind, escaping newlines inside strings', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const e1 = cold('-a|', {
        a: ['two\nlines', { n: null, list: [1, 'two'] }, true, 1.5, new Date(0)],
      });
      const expected = '-a|';

      expectObservable(e1.pipe(ndjson())).toBe(expected, {
        a: '"two\\nlines"\n{"n":null,"list":[1,"two"]}\ntrue\n1.5\n"1970-01-01T00:00:00.000Z"',
      });
    });
  });

  it('should emit nothing for an empty batch', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const e1 = cold<number[]>('-a-b-c|', { a: [], b: [1], c: [] });
      const expected = '---b--|';

      expectObservable(e1.pipe(ndjson())).toBe(expected, { b: '1' });
    });
  });

  it('should pass an error through after the earlier batches', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const error = new Error('source failed');
      const e1 = cold('-a-#', { a: [1] }, error);
      const e1subs = '  ^--!';
      const expected = '-a-#';

      expectObservable(e1.pipe(ndjson())).toBe(expected, { a: '1' }, error);
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
    });
  });

  it('should allow unsubscribing early and emit nothing afterwards', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const e1 = hot('-a-b-c-d|', { a: [1], b: [2], c: [3], d: [4] });
      const unsub = '   ----!';
      const e1subs = '  ^---!';
      const expected = '-a-b';

      expectObservable(e1.pipe(ndjson()), unsub).toBe(expected, { a: '1', b: '2' });
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
    });
  });

  it('should not break unsubscription chains when result is unsubscribed explicitly', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const e1 = hot('-a-b-c-d|', { a: [1], b: [2], c: [3], d: [4] });
      const unsub = '   -----!';
      const e1subs = '  ^----!';
      const expected = '-a-b--';

      const result = e1.pipe(
        mergeMap((batch) => of(batch)),
        ndjson(),
        mergeMap((text) => of(text)),
      );

      expectObservable(result, unsub).toBe(expected, { a: '1', b: '2' });
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
    });
  });

  it('should leave out a value JSON cannot serialize, report it, and send the rest', () => {
    const { reported, onError } = recordErrors();
    const loop = circular();
    const sneaky = () => 'function';
    const symbol = Symbol('s');

    const texts = encodeAll<unknown>(
      [[loop, 1, 10n, 2, undefined, 3, sneaky, 4, symbol]],
      ndjson<unknown>({ onError }),
    );

    expect(texts).toEqual(['1\n2\n3\n4']);
    expect(reported.map((r) => r.value)).toEqual([loop, 10n, undefined, sneaky, symbol]);
    expect(reported[0].value).toBe(loop);
    for (const { error } of reported) {
      expect(error).toBeInstanceOf(TypeError);
    }
    expect(String(reported[0].error)).toMatch(/circular/i);
    expect(String(reported[1].error)).toMatch(/BigInt/);
    expect(String(reported[2].error)).toMatch(/not JSON-serializable/);
    expect(String(reported[3].error)).toMatch(/not JSON-serializable/);
    expect(String(reported[4].error)).toMatch(/not JSON-serializable/);
  });

  it('should report the very error a toJSON throws', () => {
    const { reported, onError } = recordErrors();
    const failure = new Error('toJSON failed');
    const broken = {
      toJSON() {
        throw failure;
      },
    };

    const texts = encodeAll<unknown>([[broken, 'ok']], ndjson<unknown>({ onError }));

    expect(texts).toEqual(['"ok"']);
    expect(reported).toEqual([{ error: failure, value: broken }]);
    expect(reported[0].error).toBe(failure);
  });

  it('should report a bad last value and still send the ones before it', () => {
    const { reported, onError } = recordErrors();

    const texts = encodeAll<unknown>([[1, 2, undefined]], ndjson<unknown>({ onError }));

    expect(texts).toEqual(['1\n2']);
    expect(reported.map((r) => r.value)).toEqual([undefined]);
  });

  it('should emit nothing for a batch whose every value is bad', () => {
    testScheduler.run(({ cold, expectObservable, flush }) => {
      const { reported, onError } = recordErrors();
      const loop = circular();
      const e1 = cold<unknown[]>('-a-b-c|', { a: [undefined, 1n, loop], b: [1], c: [2n] });
      const expected = '---b--|';

      expectObservable(e1.pipe(ndjson<unknown>({ onError }))).toBe(expected, { b: '1' });
      flush();
      expect(reported.map((r) => r.value)).toEqual([undefined, 1n, loop, 2n]);
    });
  });

  it('should skip bad values silently without onError', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const e1 = cold<unknown[]>('-a-b|', { a: [1, 2n, 3], b: [undefined] });
      const expected = '-a--|';

      expectObservable(e1.pipe(ndjson<unknown>())).toBe(expected, { a: '1\n3' });
    });
  });

  it('should error the output when onError throws on a value that threw', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const failure = new Error('onError failed');
      const e1 = cold<unknown[]>('-a-b|', { a: [1, 2n, 3], b: [4] });
      const e1subs = '  ^!';
      const expected = '-#';

      const result = e1.pipe(
        ndjson<unknown>({
          onError: () => {
            throw failure;
          },
        }),
      );

      expectObservable(result).toBe(expected, undefined, failure);
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
    });
  });

  it('should error the output when onError throws on a value serialized to nothing', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const failure = new Error('onError failed');
      const e1 = cold<unknown[]>('-a|', { a: [1, undefined, 3] });
      const expected = '-#';

      const result = e1.pipe(
        ndjson<unknown>({
          onError: () => {
            throw failure;
          },
        }),
      );

      expectObservable(result).toBe(expected, undefined, failure);
    });
  });

  it('should error the output when onError throws on a later bad value of the batch', () => {
    testScheduler.run(({ cold, expectObservable, flush }) => {
      const failure = new Error('second report failed');
      const seen: unknown[] = [];
      const e1 = cold<unknown[]>('-a|', { a: [1, undefined, 2, 3n, 4] });
      const expected = '-#';

      const result = e1.pipe(
        ndjson<unknown>({
          onError: (_error, value) => {
            seen.push(value);
            if (seen.length === 2) {
              throw failure;
            }
          },
        }),
      );

      expectObservable(result).toBe(expected, undefined, failure);
      flush();
      expect(seen).toEqual([undefined, 3n]);
    });
  });

  it('should throw a TypeError at creation when both schema and stringify are given', () => {
    expect(() => ndjson({ schema: messageSchema, stringify: JSON.stringify })).toThrow(TypeError);
    expect(() => ndjson({ schema: messageSchema, stringify: JSON.stringify })).toThrow(
      /mutually exclusive/,
    );
  });

  it('should throw at creation when stringify or onError is not a function', () => {
    expect(() => ndjson({ stringify: 'json' as unknown as () => string })).toThrow(TypeError);
    expect(() => ndjson({ onError: 42 as unknown as () => void })).toThrow(TypeError);
  });

  it('should throw at creation when the schema cannot be compiled', () => {
    expect(() =>
      ndjson({ schema: { type: 'object', properties: { id: { $ref: '#/nowhere' } } } }),
    ).toThrow();
  });

  it('should support reentrancy: a downstream next may feed the source synchronously', () => {
    const source = new Subject<number[]>();
    const texts: string[] = [];
    let completed = false;

    source.pipe(ndjson()).subscribe({
      next: (text) => {
        texts.push(text);
        if (text === '1') {
          source.next([2, 3]);
          source.next([]);
          source.next([4]);
        }
        if (text === '4') {
          source.complete();
        }
      },
      complete: () => (completed = true),
    });
    source.next([1]);
    source.next([5]);

    expect(texts).toEqual(['1', '2\n3', '4']);
    expect(completed).toBe(true);
  });

  it('should share one stateless operator function between subscriptions', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const operator = ndjson<number>();
      const e1 = cold('-a-b|', { a: [1], b: [2, 3] });
      const e2 = cold('--c|', { c: [4, 5] });

      expectObservable(e1.pipe(operator)).toBe('-a-b|', { a: '1', b: '2\n3' });
      expectObservable(e2.pipe(operator)).toBe('--c|', { c: '4\n5' });
    });
  });

  describe('with schema', () => {
    beforeEach(() => {
      jest.mocked(fastJson).mockClear();
    });

    it('should compile the serializer once, when the operator is created', () => {
      const operator = ndjson({ schema: messageSchema });
      expect(fastJson).toHaveBeenCalledTimes(1);
      expect(fastJson).toHaveBeenCalledWith(messageSchema);

      encodeAll([[{ type: 'a', id: 1 }], [{ type: 'b', id: 2 }]], operator);
      encodeAll([[{ type: 'c', id: 3 }]], operator);

      expect(fastJson).toHaveBeenCalledTimes(1);
    });

    it('should serialize with the schema, dropping undeclared properties', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const e1 = cold('-a|', {
          a: [
            { type: 'tick', id: 1, secret: 'not in the schema' },
            { type: 'tock', id: 2 },
          ],
        });
        const expected = '-a|';

        expectObservable(e1.pipe(ndjson({ schema: messageSchema }))).toBe(expected, {
          a: '{"type":"tick","id":1}\n{"type":"tock","id":2}',
        });
      });
    });

    it('should report a value missing a required property and send the rest', () => {
      const { reported, onError } = recordErrors();
      const missingId = { type: 'no id' };

      const texts = encodeAll<object>(
        [[{ type: 'a', id: 1 }, missingId, { type: 'c', id: 3 }]],
        ndjson<object>({ schema: messageSchema, onError }),
      );

      expect(texts).toEqual(['{"type":"a","id":1}\n{"type":"c","id":3}']);
      expect(reported).toHaveLength(1);
      expect(reported[0].value).toBe(missingId);
      expect(String(reported[0].error)).toMatch(/"id" is required/);
    });

    it('should reject the text "undefined" that a permissive schema prints', () => {
      const { reported, onError } = recordErrors();

      const texts = encodeAll<unknown>(
        [[1, undefined, 'two']],
        ndjson<unknown>({ schema: {}, onError }),
      );

      expect(texts).toEqual(['1\n"two"']);
      expect(reported.map((r) => r.value)).toEqual([undefined]);
      expect(reported[0].error).toBeInstanceOf(TypeError);
    });
  });

  describe('with RawJson values', () => {
    it('should write a RawJson as it is, without calling the serializer on it', () => {
      const stringify = jest.fn((value: unknown) => JSON.stringify(value));
      const shared = new RawJson('{"shared":true}');

      const texts = encodeAll<unknown>([[1, shared, 2]], ndjson<unknown>({ stringify }));

      expect(texts).toEqual(['1\n{"shared":true}\n2']);
      expect(stringify.mock.calls.map(([value]) => value)).toEqual([1, 2]);
    });

    it('should write a RawJson after a bad value of the batch too', () => {
      const { reported, onError } = recordErrors();

      const texts = encodeAll<unknown>(
        [[circular(), new RawJson('"raw"'), 3]],
        ndjson({ onError }),
      );

      expect(texts).toEqual(['"raw"\n3']);
      expect(reported).toHaveLength(1);
    });

    it('should recognise a RawJson made by another copy of the package', () => {
      let Other!: typeof RawJson;
      jest.isolateModules(() => {
        ({ RawJson: Other } = jest.requireActual('../../operators/rawJson.js'));
      });
      const foreign = new Other('{"from":"elsewhere"}');

      expect(Other).not.toBe(RawJson);
      expect(foreign).not.toBeInstanceOf(RawJson);
      expect(isRawJson(foreign)).toBe(true);
      expect(encodeAll<unknown>([[foreign]])).toEqual(['{"from":"elsewhere"}']);
    });

    it('should refuse, at creation, a text that is not one line of JSON', () => {
      expect(() => new RawJson('{"a":\n1}')).toThrow(TypeError);
      expect(() => new RawJson(JSON.stringify(undefined) as unknown as string)).toThrow(TypeError);
      expect(isRawJson({ json: '1' })).toBe(false);
      expect(isRawJson(null)).toBe(false);
    });
  });

  describe('with stringify', () => {
    it('should serialize each value with the custom function', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const e1 = cold('-a|', {
          a: [
            { id: 1, name: 'a' },
            { id: 2, name: 'b' },
          ],
        });
        const expected = '-a|';

        const result = e1.pipe(
          ndjson<{ id: number; name: string }>({
            stringify: (value) => JSON.stringify([value.id, value.name]),
          }),
        );

        expectObservable(result).toBe(expected, { a: '[1,"a"]\n[2,"b"]' });
      });
    });

    it('should reject output with a raw newline, which would break the framing', () => {
      const { reported, onError } = recordErrors();
      const nested = { a: 1 };

      const texts = encodeAll<unknown>(
        [[1, nested, 2]],
        ndjson<unknown>({ stringify: (value) => JSON.stringify(value, null, 2), onError }),
      );

      expect(texts).toEqual(['1\n2']);
      expect(reported).toHaveLength(1);
      expect(reported[0].value).toBe(nested);
      expect(reported[0].error).toBeInstanceOf(TypeError);
      expect(String(reported[0].error)).toMatch(/framing/);
    });

    it('should reject empty output and non-string output', () => {
      const { reported, onError } = recordErrors();

      const texts = encodeAll<string>(
        [['', 'keep', 'none', 'also kept']],
        ndjson<string>({
          stringify: (value) =>
            value === 'none' ? (undefined as unknown as string) : value && JSON.stringify(value),
          onError,
        }),
      );

      expect(texts).toEqual(['"keep"\n"also kept"']);
      expect(reported.map((r) => r.value)).toEqual(['', 'none']);
      expect(String(reported[0].error)).toMatch(/empty/);
      expect(String(reported[1].error)).toMatch(/not JSON-serializable/);
    });

    it('should report a throw from stringify and send the rest', () => {
      const { reported, onError } = recordErrors();
      const failure = new Error('cannot stringify 2');

      const texts = encodeAll<number>(
        [[1, 2, 3]],
        ndjson<number>({
          stringify: (value) => {
            if (value === 2) {
              throw failure;
            }
            return String(value);
          },
          onError,
        }),
      );

      expect(texts).toEqual(['1\n3']);
      expect(reported).toEqual([{ error: failure, value: 2 }]);
    });
  });

  describe('properties', () => {
    const jsonBatches = fc.array(fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 20 }), {
      maxLength: 10,
    });
    const configs = [
      ['JSON.stringify', () => ndjson<unknown>()],
      [
        'a custom stringify',
        () => ndjson<unknown>({ stringify: (value) => JSON.stringify(value) }),
      ],
    ] as const;

    it.each(configs)(
      'with %s, parsing each text gives back its batch, with batch length - 1 newlines',
      (_name, createOperator) => {
        fc.assert(
          fc.property(jsonBatches, (batches) => {
            const texts = encodeAll<unknown>(batches, createOperator());
            const nonEmpty = batches.filter((batch) => batch.length > 0);

            expect(texts).toHaveLength(nonEmpty.length);
            texts.forEach((text, index) => {
              expect(parseNdjson(text)).toEqual(withoutNegativeZero(nonEmpty[index]));
              expect(countNewlines(text)).toBe(nonEmpty[index].length - 1);
            });
          }),
        );
      },
    );

    type Tagged = { good: true; value: unknown } | { good: false; value: unknown };
    const good = fc.jsonValue({ maxDepth: 2 }).map((value): Tagged => ({ good: true, value }));
    const bad = fc
      .oneof(
        fc.bigInt(),
        fc.constant(undefined),
        fc.constant(null).map(() => circular()),
        fc.constant(null).map(() => () => 'fn'),
        fc.string().map((description) => Symbol(description)),
      )
      .map((value): Tagged => ({ good: false, value }));
    const mixedBatches = fc.array(fc.array(fc.oneof(good, bad), { maxLength: 12 }), {
      maxLength: 8,
    });
    const mixedConfigs = [
      [
        'JSON.stringify',
        (onError: (error: unknown, value: unknown) => void) => ndjson({ onError }),
      ],
      [
        'a custom stringify',
        (onError: (error: unknown, value: unknown) => void) =>
          ndjson<unknown>({ stringify: (value) => JSON.stringify(value), onError }),
      ],
      [
        'a permissive schema',
        (onError: (error: unknown, value: unknown) => void) =>
          ndjson<unknown>({ schema: {}, onError }),
      ],
    ] as const;

    it.each(mixedConfigs)(
      'with %s, good values come out in order and onError sees exactly the bad ones',
      (_name, createOperator) => {
        fc.assert(
          fc.property(mixedBatches, (batches) => {
            const { reported, onError } = recordErrors();
            const texts = encodeAll<unknown>(
              batches.map((batch) => batch.map((item) => item.value)),
              createOperator(onError),
            );

            const goodBatches = batches
              .map((batch) => batch.filter((item) => item.good).map((item) => item.value))
              .filter((values) => values.length > 0);
            expect(texts.map(parseNdjson)).toEqual(goodBatches.map(withoutNegativeZero));

            const badValues = batches.flat().filter((item) => !item.good);
            expect(reported).toHaveLength(badValues.length);
            reported.forEach(({ error, value }, index) => {
              expect(value).toBe(badValues[index].value);
              expect(error).toBeInstanceOf(TypeError);
            });
          }),
        );
      },
    );
  });
});
