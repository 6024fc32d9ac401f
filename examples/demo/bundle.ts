import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';

/** The page's entry point: the browser script built on the client. */
const ENTRY = join(__dirname, 'page', 'main.ts');

/**
 * Bundles the page's script and the client (with rxjs) for the browser, in memory.
 *
 * Done when the demo starts rather than by a build step, so that `npm start` works right after
 * `npm ci`, and the page can never run a stale copy of the client.
 */
export async function bundlePage(): Promise<string> {
  const result = await build({
    entryPoints: [ENTRY],
    bundle: true,
    write: false,
    platform: 'browser',
    // An IIFE rather than ESM: the same file also runs in a plain `vm` context in the specs.
    format: 'iife',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

/** uPlot's stylesheet, read from its package: served by the demo itself, no CDN. */
export async function chartStyles(): Promise<string> {
  return readFile(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
}
