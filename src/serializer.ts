import { compileSchema } from '../operators/compileSchema.cjs';

/** How an outbox turns one message into one line of JSON. */
export interface SerializerOptions<T> {
  /** A JSON Schema compiled by fast-json-stringify. */
  schema?: object;
  /** A serializer of your own. */
  stringify?: (message: T) => string;
}

/**
 * Builds the serializer the options ask for: fast-json-stringify for a schema, the given
 * `stringify`, or `JSON.stringify`. Compiled once, here, never per message.
 */
export function createSerializer<T>({
  schema,
  stringify,
}: SerializerOptions<T>): (message: T) => string {
  if (schema && stringify) throw new TypeError('give either schema or stringify, not both');
  if (schema) return compileSchema<T>(schema);
  return stringify ?? JSON.stringify;
}
