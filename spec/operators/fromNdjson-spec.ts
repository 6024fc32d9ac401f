import fc from 'fast-check';
import { from, mergeMap, of, Subject, take } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { fromNdjson, parseNdjson } from '../../operators/fromNdjson.js';
import { ndjson } from '../../operators/ndjson.js';

/** The error parseNdjson throws for `text`, to compare with what the stream errors with. */
function parseError(text: string): unknown {
  try {
    parseNdjson(text);
  } catch (error) {
    return error;
  }
  throw new Error(`expected ${JSON.stringify(text)} not to parse`);
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

describe('parseNdjson', () => {
  it('should parse one value per line', () => {
    expect(parseNdjson('1\n"two"\n{"three":[3]}\nnull\ntrue')).toEqual([
      1,
      'two',
      { three: [3] },
      null,
      true,
    ]);
  });

  it('should parse a single value without a newline', () => {
    expect(parseNdjson('{"x":1}')).toEqual([{ x: 1 }]);
  });

  it('should return no values for an empty text', () => {
    expect(parseNdjson('')).toEqual([]);
  });

  it('should tolerate a trailing newline, "\\r\\n" and blank or whitespace-only lines', () => {
    expect(parseNdjson('1\r\n\n  \t\n\r\n{"a":"b"}\r\n2\n')).toEqual([1, { a: 'b' }, 2]);
  });

  it('should keep escaped newlines inside strings', () => {
    expect(parseNdjson('"two\\nlines"\n"\\r\\n"')).toEqual(['two\nlines', '\r\n']);
  });

  it('should throw a SyntaxError naming the line of a bad value, counting blank lines', () => {
    const text = '1\n\n{"broken":\n4';
    let thrown: unknown;
    try {
      parseNdjson(text);
    } catch (error) {
      thrown = error;
    }

    expect(thrown).toBeInstanceOf(SyntaxError);
    expect((thrown as SyntaxError).message).toMatch(/line 3\b/);
    expect((thrown as SyntaxError).cause).toBeInstanceOf(SyntaxError);
  });

  it('should name the first bad line when there are several', () => {
    expect(() => parseNdjson('[1]\nnope\n{oops}')).toThrow(/line 2\b/);
  });

  it('should reject two values on one line', () => {
    expect(() => parseNdjson('1 2')).toThrow(SyntaxError);
  });
});

describe('fromNdjson', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  it('should emit each value of each text, in order', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const e1 = cold('-a---b---c---|', { a: '1\n2', b: '{"x":1}\r\n', c: '' });
      const e1subs = '  ^------------!';
      const expected = '-(12)x-------|';

      expectObservable(e1.pipe(fromNdjson())).toBe(expected, { 1: 1, 2: 2, x: { x: 1 } });
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
    });
  });

  it('should handle never', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const e1 = cold<string>('-');
      const e1subs = '  ^';
      const expected = '-';

      expectObservable(e1.pipe(fromNdjson())).toBe(expected);
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
    });
  });

  it('should handle empty', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const e1 = cold<string>('|');
      const e1subs = '  (^!)';
      const expected = '|';

      expectObservable(e1.pipe(fromNdjson())).toBe(expected);
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
    });
  });

  it('should emit the one value of a one-line text', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const e1 = cold('-a|', { a: '"hello"' });
      const expected = '-a|';

      expectObservable(e1.pipe(fromNdjson<string>())).toBe(expected, { a: 'hello' });
    });
  });

  it('should pass an error through after the earlier values', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const error = new Error('socket closed');
      const e1 = cold('-a-#', { a: '1' }, error);
      const e1subs = '  ^--!';
      const expected = '-a-#';

      expectObservable(e1.pipe(fromNdjson())).toBe(expected, { a: 1 }, error);
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
    });
  });

  it('should error with the SyntaxError of parseNdjson on a bad text, emitting none of its values', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const badText = '3\n{not json}\n4';
      const e1 = cold('-a---b-c|', { a: '1\n2', b: badText, c: '5' });
      const e1subs = '  ^----!';
      const expected = '-(12)#';

      expectObservable(e1.pipe(fromNdjson())).toBe(expected, { 1: 1, 2: 2 }, parseError(badText));
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
    });
  });

  it('should allow unsubscribing early and emit nothing afterwards', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const e1 = hot('-a-b-c-d|', { a: '1', b: '2', c: '3', d: '4' });
      const unsub = '   ----!';
      const e1subs = '  ^---!';
      const expected = '-a-b';

      expectObservable(e1.pipe(fromNdjson()), unsub).toBe(expected, { a: 1, b: 2 });
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
    });
  });

  it('should not break unsubscription chains when result is unsubscribed explicitly', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const e1 = hot('-a-b-c-d|', { a: '1', b: '2', c: '3', d: '4' });
      const unsub = '   -----!';
      const e1subs = '  ^----!';
      const expected = '-a-b--';

      const result = e1.pipe(
        mergeMap((text) => of(text)),
        fromNdjson(),
        mergeMap((value) => of(value)),
      );

      expectObservable(result, unsub).toBe(expected, { a: 1, b: 2 });
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
    });
  });

  it('should stop emitting the values of a text once the subscriber unsubscribes', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const e1 = hot('-a-b|', { a: '1\n2\n3', b: '4' });
      const e1subs = '  ^!';
      const expected = '-(12|)';

      expectObservable(e1.pipe(fromNdjson(), take(2))).toBe(expected, { 1: 1, 2: 2 });
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
    });
  });

  it('should not emit the rest of a text after a downstream unsubscribe inside next', () => {
    const source = new Subject<string>();
    const seen: unknown[] = [];
    const subscription = source.pipe(fromNdjson()).subscribe((value) => {
      seen.push(value);
      if (value === 2) {
        subscription.unsubscribe();
      }
    });

    source.next('1\n2\n3\n4');

    expect(seen).toEqual([1, 2]);
    expect(source.observed).toBe(false);
  });

  describe('reentrancy', () => {
    it('should emit a text pushed from a downstream next after the current text', () => {
      const source = new Subject<string>();
      const seen: unknown[] = [];
      let completed = false;

      source.pipe(fromNdjson()).subscribe({
        next: (value) => {
          seen.push(value);
          if (value === 1) {
            source.next('3\n4');
            source.next('5');
          }
        },
        complete: () => (completed = true),
      });
      source.next('1\n2');
      source.next('6');

      expect(seen).toEqual([1, 2, 3, 4, 5, 6]);
      expect(completed).toBe(false);
    });

    it('should complete only after the texts pushed before a reentrant complete', () => {
      const source = new Subject<string>();
      const events: unknown[] = [];

      source.pipe(fromNdjson()).subscribe({
        next: (value) => {
          events.push(value);
          if (value === 1) {
            source.next('3');
            source.complete();
          }
        },
        complete: () => events.push('complete'),
      });
      source.next('1\n2');

      expect(events).toEqual([1, 2, 3, 'complete']);
    });

    it('should error on a reentrant bad text only after the values before it', () => {
      const source = new Subject<string>();
      const events: unknown[] = [];

      source.pipe(fromNdjson()).subscribe({
        next: (value) => {
          events.push(value);
          if (value === 1) {
            source.next('nope');
          }
        },
        error: (error: unknown) => events.push(error),
      });
      source.next('1\n2');

      expect(events).toEqual([1, 2, parseError('nope')]);
      expect(events[2]).toBeInstanceOf(SyntaxError);
    });

    it('should pass a reentrant source error through at once', () => {
      const source = new Subject<string>();
      const failure = new Error('source failed');
      const events: unknown[] = [];

      source.pipe(fromNdjson()).subscribe({
        next: (value) => {
          events.push(value);
          if (value === 1) {
            source.error(failure);
          }
        },
        error: (error: unknown) => events.push(error),
      });
      source.next('1\n2');

      expect(events).toEqual([1, failure]);
    });
  });

  describe('properties', () => {
    const jsonValues = fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 20 });

    it('should give back the values of every batch that ndjson serialized, in order', () => {
      fc.assert(
        fc.property(fc.array(jsonValues, { maxLength: 10 }), (batches) => {
          const values: unknown[] = [];
          from(batches)
            .pipe(ndjson<unknown>(), fromNdjson())
            .subscribe((value) => values.push(value));

          expect(values).toEqual(withoutNegativeZero(batches.flat()));
        }),
      );
    });

    it('should parse values whatever the blank lines and line endings between them', () => {
      const separator = fc.constantFrom('\n', '\r\n', '\n\n', '\n  \t\n', '\r\n\r\n');
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.jsonValue({ maxDepth: 3 }), separator), { maxLength: 20 }),
          fc.constantFrom('', '\n', '\r\n'),
          fc.constantFrom('', '\n', ' \n'),
          (lines, leading, trailing) => {
            let text = leading;
            lines.forEach(([value, after], index) => {
              text += JSON.stringify(value) + (index < lines.length - 1 ? after : trailing);
            });

            expect(parseNdjson(text)).toEqual(withoutNegativeZero(lines.map(([value]) => value)));
          },
        ),
      );
    });
  });
});
