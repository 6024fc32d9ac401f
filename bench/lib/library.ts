/**
 * The library as the benchmarks' children load it: compiled to plain JavaScript, as users
 * run it, rather than through tsx. tsx compiles with esbuild's `keepNames`, which wraps every
 * function the library creates in a `__name(fn, "name")` call (an `Object.defineProperty`): a cost
 * no user pays, and that only the ws-outbox arm would carry (`ws` and socket.io are JavaScript
 * already). In a profile of the fan-out server under tsx it took 16 % of the busy time.
 *
 * A parent calls {@link compileLibrary} and sets {@link LIBRARY_ENV}; its children then take the
 * library from {@link serverLibrary} and {@link clientLibrary}. `LIBRARY=sources` in a
 * benchmark's environment keeps the TypeScript sources, to profile them by their own names.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

/** Where the parent tells the children the compiled library is; unset, they load the sources. */
export const LIBRARY_ENV = 'WS_OUTBOX_BENCH_LIB';

const root = join(__dirname, '..', '..');

/**
 * Compiles `src/index.ts`, `src/client/index.ts` and `src/redis/index.ts` into one CommonJS file
 * each, dependencies
 * left as `require`s, under `node_modules/.cache` (so that they resolve from there).
 * @returns The directory holding `index.js`, `client.js` and `redis.js`; {@link removeLibrary} removes it.
 */
export async function compileLibrary(): Promise<string> {
  // One directory per run, so that two runs in one checkout do not overwrite each other's.
  const outdir = join(root, 'node_modules', '.cache', `ws-outbox-bench-${process.pid}`);
  await build({
    entryPoints: {
      index: join(root, 'src', 'index.ts'),
      client: join(root, 'src', 'client', 'index.ts'),
      redis: join(root, 'src', 'redis', 'index.ts'),
    },
    outdir,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    packages: 'external',
    keepNames: false,
    logLevel: 'warning',
  });
  return outdir;
}

/** Removes what {@link compileLibrary} wrote. */
export function removeLibrary(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

type Server = typeof import('../../src/index.js');
type Client = typeof import('../../src/client/index.js');
type Redis = typeof import('../../src/redis/index.js');

/** The server side of the library: compiled if the parent compiled it, else the sources. */
export function serverLibrary(): Server {
  const dir = process.env[LIBRARY_ENV];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (dir ? require(join(dir, 'index.js')) : require('../../src/index.js')) as Server;
}

/** The client side of the library: compiled if the parent compiled it, else the sources. */
export function clientLibrary(): Client {
  const dir = process.env[LIBRARY_ENV];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (dir ? require(join(dir, 'client.js')) : require('../../src/client/index.js')) as Client;
}

/** `ws-outbox/redis`: compiled if the parent compiled it, else the sources. */
export function redisLibrary(): Redis {
  const dir = process.env[LIBRARY_ENV];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (dir ? require(join(dir, 'redis.js')) : require('../../src/redis/index.js')) as Redis;
}
