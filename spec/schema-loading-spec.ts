import { lastValueFrom, of, VirtualTimeScheduler } from 'rxjs';
import { SocketDouble } from './helpers/socketDouble.js';

type Package = typeof import('../src/index.js');

const schema = {
  type: 'object',
  properties: { id: { type: 'integer' }, text: { type: 'string' } },
};

/**
 * Loads the package in a module registry of its own, counting each time fast-json-stringify is
 * loaded.
 */
async function loadCounting(): Promise<{ pkg: Package; loads: () => number }> {
  let count = 0;
  let pkg: Package | undefined;
  await jest.isolateModulesAsync(async () => {
    jest.doMock('fast-json-stringify', () => {
      count++;
      return jest.requireActual('fast-json-stringify');
    });
    pkg = await import('../src/index.js');
  });
  return { pkg: pkg!, loads: () => count };
}

describe('fast-json-stringify', () => {
  afterEach(() => {
    jest.dontMock('fast-json-stringify');
  });

  it('should not be loaded by the operators or the outbox until a schema is given', async () => {
    const { pkg, loads } = await loadCounting();
    expect(loads()).toBe(0);

    const batch = [{ id: 1, text: 'a', extra: true }, { id: 2 }];
    await expect(lastValueFrom(of(batch).pipe(pkg.ndjson()))).resolves.toBe(
      '{"id":1,"text":"a","extra":true}\n{"id":2}',
    );
    const socket = new SocketDouble(new VirtualTimeScheduler());
    new pkg.WsOutbox(socket, { metrics: false }).start().send({ id: 3 });
    expect(loads()).toBe(0);

    await expect(lastValueFrom(of(batch).pipe(pkg.ndjson({ schema })))).resolves.toBe(
      '{"id":1,"text":"a"}\n{"id":2}',
    );
    expect(loads()).toBe(1);
    new pkg.WsOutbox(socket, { schema, metrics: false }).start();
    expect(loads()).toBe(1);
  });
});
