/**
 * The library as the cluster benchmark's nodes load it: compiled to plain JavaScript, as users
 * run it, rather than through tsx. tsx compiles with esbuild's `keepNames`, which wraps every
 * function the library creates in a `__name(fn, "name")` call: a cost no user pays, and one only
 * the ws-outbox arm would carry (socket.io and its adapter are JavaScript already).
 */
import { join } from 'node:path';
import { build } from 'esbuild';

/** Where the parent tells the nodes the compiled library is; unset, they load the sources. */
export const CLUSTER_LIBRARY_ENV = 'WS_OUTBOX_CLUSTER_BENCH_LIB';

const root = join(__dirname, '..', '..');

/**
 * Compiles `src/index.ts` and `src/redis/index.ts` into one CommonJS file each, dependencies
 * left as `require`s, under `node_modules/.cache` (so that they resolve from there).
 * @returns The directory holding `index.js` and `redis.js`.
 */
export async function compileClusterLibrary(): Promise<string> {
  const outdir = join(root, 'node_modules', '.cache', 'ws-outbox-cluster-bench');
  await build({
    entryPoints: {
      index: join(root, 'src', 'index.ts'),
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

type Server = typeof import('../../src/index.js');
type Redis = typeof import('../../src/redis/index.js');

/** The library's server side and `ws-outbox/redis`: compiled if the parent compiled them. */
export function clusterLibrary(): { server: Server; redis: Redis } {
  const dir = process.env[CLUSTER_LIBRARY_ENV];
  /* eslint-disable @typescript-eslint/no-require-imports */
  return dir
    ? {
        server: require(join(dir, 'index.js')) as Server,
        redis: require(join(dir, 'redis.js')) as Redis,
      }
    : {
        server: require('../../src/index.js') as Server,
        redis: require('../../src/redis/index.js') as Redis,
      };
  /* eslint-enable @typescript-eslint/no-require-imports */
}
