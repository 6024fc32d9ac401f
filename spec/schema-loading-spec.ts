import { lastValueFrom, of } from 'rxjs';

type Operators = typeof import('../operators/index.js');
type Serializer = typeof import('../src/serializer.js');

const schema = {
  type: 'object',
  properties: { id: { type: 'integer' }, text: { type: 'string' } },
};

/**
 * Loads the operators and the outbox's serializer in a module registry of their own, counting
 * each time fast-json-stringify is loaded.
 */
async function loadCounting(): Promise<{
  operators: Operators;
  serializer: Serializer;
  loads: () => number;
}> {
  let count = 0;
  let operators: Operators | undefined;
  let serializer: Serializer | undefined;
  await jest.isolateModulesAsync(async () => {
    jest.doMock('fast-json-stringify', () => {
      count++;
      return jest.requireActual('fast-json-stringify');
    });
    operators = await import('../operators/index.js');
    serializer = await import('../src/serializer.js');
  });
  return { operators: operators!, serializer: serializer!, loads: () => count };
}

describe('fast-json-stringify', () => {
  afterEach(() => {
    jest.dontMock('fast-json-stringify');
  });

  it('should not be loaded by the operators or the serializer until a schema is given', async () => {
    const { operators, serializer, loads } = await loadCounting();
    expect(loads()).toBe(0);

    const batch = [{ id: 1, text: 'a', extra: true }, { id: 2 }];
    await expect(lastValueFrom(of(batch).pipe(operators.ndjson()))).resolves.toBe(
      '{"id":1,"text":"a","extra":true}\n{"id":2}',
    );
    expect(serializer.createSerializer({})({ id: 3 })).toBe('{"id":3}');
    expect(loads()).toBe(0);

    await expect(lastValueFrom(of(batch).pipe(operators.ndjson({ schema })))).resolves.toBe(
      '{"id":1,"text":"a"}\n{"id":2}',
    );
    expect(loads()).toBe(1);
    expect(serializer.createSerializer({ schema })({ id: 3, extra: true })).toBe('{"id":3}');
    expect(loads()).toBe(1);
  });
});
