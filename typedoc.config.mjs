import { readFileSync } from 'node:fs';
import { URL } from 'node:url';

// The API reference: `npm run docs:api`. One entry point per public subpath, read from
// package.json's "exports" (the source each subpath's types are built from), so a subpath added
// there is documented without touching this file.
const manifest = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
const entryPoints = Object.values(manifest.exports)
  .filter((target) => typeof target === 'object')
  .map((target) => target.require.types.replace('./dist/cjs/', './').replace(/\.d\.ts$/, '.ts'));

/** @type {Partial<import('typedoc').TypeDocOptions>} */
export default {
  entryPoints,
  tsconfig: './tsconfig.build.json',
  out: './api-docs',
  name: 'ws-outbox',
  includeVersion: true,
  // Members inherited from rxjs and prom-client (an Observer's next/error/complete, say) are
  // documented by those projects.
  excludeExternals: true,
  excludeInternal: true,
  excludePrivate: true,
  // The type of the `metrics` options, spelled out where it is used.
  intentionallyNotExported: ['MetricsOption'],
  treatWarningsAsErrors: true,
};
