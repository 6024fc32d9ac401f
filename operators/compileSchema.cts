// A CommonJS module in both builds (TypeScript emits a .cts file as .cjs whatever `module` says),
// so `require` is there to load fast-json-stringify synchronously, and only when a schema is
// compiled: it and ajv are some 150 modules that a pipeline without a schema never needs. The
// ES module build imports this file as it imports any CommonJS module.
import type { Schema } from 'fast-json-stringify';

type FastJsonStringify = typeof import('fast-json-stringify');

/**
 * Compiles a JSON Schema into a fast-json-stringify serializer, loading fast-json-stringify on
 * first use.
 *
 * @param schema A JSON Schema, which fast-json-stringify trusts (see `ndjson`'s `schema`).
 * @returns A function from a value to its JSON text.
 * @throws When fast-json-stringify refuses the schema.
 */
export function compileSchema<T = unknown>(schema: object): (value: T) => string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- on first use, see above
  const fastJson = require('fast-json-stringify') as FastJsonStringify;
  return fastJson(schema as Schema) as (value: T) => string;
}
