import { Observable, type OperatorFunction } from 'rxjs';
import { compileSchema } from './compileSchema.cjs';
import { isRawJson } from './rawJson.js';

/**
 * Options for {@link ndjson}.
 */
export interface NdjsonConfig<T> {
  /**
   * A JSON Schema from which a fast-json-stringify serializer is compiled, once, when
   * `ndjson()` is called. fast-json-stringify trusts the schema: a value that does not match
   * it may be coerced (`5` for a string property becomes `"5"`), lose properties the schema
   * does not declare, or throw (a missing `required` property), in which case it is reported
   * to `onError`. Mutually exclusive with `stringify`.
   *
   * Typed `object` rather than fast-json-stringify's `Schema` so that schemas declared
   * `as const` (whose `required` is a readonly tuple) are accepted; an invalid schema makes
   * `ndjson()` throw.
   */
  schema?: object;
  /**
   * A custom serializer. Its output must be a single JSON text on one line: an empty output
   * or one containing a raw `"\n"` (pretty-printing, for instance) would break the framing
   * and is reported to `onError`. Mutually exclusive with `schema`.
   */
  stringify?: (value: T) => string;
  /**
   * Called once for each value left out of a batch because it could not be serialized, with
   * the error and the value, in batch order. Without it, such values are skipped silently.
   * A throw here errors the output.
   */
  onError?: (error: unknown, value: T) => void;
}

type Serializer<T> = (value: T) => unknown;

// How much of a serializer's output must be checked before it goes on the wire. JSON.stringify
// escapes every newline and returns `undefined` (not a string) for what it cannot encode, so it
// needs no check; fast-json-stringify escapes too but prints `undefined` for such values when
// the schema allows anything; a custom serializer may print anything.
const TRUSTED_OUTPUT = 0;
const SCHEMA_OUTPUT = 1;
const UNTRUSTED_OUTPUT = 2;
type OutputCheck = typeof TRUSTED_OUTPUT | typeof SCHEMA_OUTPUT | typeof UNTRUSTED_OUTPUT;

/**
 * Serializes each batch of values into one NDJSON text: the JSON of each value, joined with
 * `"\n"`, without a trailing newline.
 *
 * <span class="informal">One array in, one text frame out; a value that cannot be serialized
 * is reported and left out instead of failing the batch.</span>
 *
 * Each value is serialized with `JSON.stringify`, with a fast-json-stringify serializer
 * compiled from `schema`, or with a custom `stringify`. The serializer is built once, when
 * `ndjson()` is called, and shared by every subscription. A {@link RawJson} value is written as
 * it is: serialized once elsewhere (a message broadcast to many sockets), it is neither
 * serialized nor scanned again.
 *
 * A value that cannot be serialized (a circular structure, a BigInt, a top-level `undefined`,
 * function or symbol, a value a schema rejects, or a custom output that would break the
 * framing) is left out of its batch and passed to `onError` with the error; the rest of the
 * batch goes out. A batch that is empty, or whose every value is bad, emits nothing.
 *
 * ## Example
 *
 * Send coalesced batches as NDJSON text frames
 *
 * ```ts
 * import { Subject } from 'rxjs';
 * import { coalesce, ndjson } from 'ws-outbox/operators';
 *
 * const messages = new Subject<{ type: string; id: number }>();
 * messages
 *   .pipe(
 *     coalesce(25),
 *     ndjson({ onError: (error, value) => console.warn('not sent', value, error) }),
 *   )
 *   .subscribe((frame) => ws.send(frame));
 * ```
 *
 * ```
 * source: -a------------b-----------c---------|
 *          a = [1, 2]   b = [{x: 1}] c = []
 * ndjson()
 * output: -a------------b---------------------|
 *          a = '1\n2'   b = '{"x":1}'
 * ```
 *
 * @see {@link fromNdjson}
 * @see {@link parseNdjson}
 *
 * @param config How values are serialized and where failures are reported.
 * @returns A function that returns an Observable of one NDJSON text for each batch of the
 * source that holds at least one serializable value.
 * @throws {TypeError} At creation, when both `schema` and `stringify` are given.
 */
export function ndjson<T>(config: NdjsonConfig<T> = {}): OperatorFunction<readonly T[], string> {
  const encodeBatch = ndjsonEncoder(config);
  return (source) =>
    new Observable<string>((subscriber) =>
      source.subscribe({
        next(batch) {
          let text: string | undefined;
          try {
            text = encodeBatch(batch);
          } catch (error) {
            subscriber.error(error);
            return;
          }
          if (text !== undefined) {
            subscriber.next(text);
          }
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      }),
    );
}

/**
 * Encodes one batch: the NDJSON text of its serializable values, or `undefined` when none is.
 * Values that cannot be serialized go to `onError` (the one given here, else the config's); a
 * throw from `onError` propagates.
 * @internal
 */
export type BatchEncoder<T> = (
  batch: readonly T[],
  onError?: (error: unknown, value: T) => void,
) => string | undefined;

/**
 * What {@link ndjson} does to each batch, for stages that carry more than the text (the outbox's
 * frames carry what they must be accounted for), with the serializer compiled once.
 *
 * @param config As {@link ndjson}'s.
 * @returns The batch encoder.
 * @internal
 */
export function ndjsonEncoder<T>(config: NdjsonConfig<T> = {}): BatchEncoder<T> {
  const { schema, stringify, onError } = config;
  if (schema !== undefined && stringify !== undefined) {
    throw new TypeError('ndjson: `schema` and `stringify` are mutually exclusive');
  }
  if (stringify !== undefined && typeof stringify !== 'function') {
    throw new TypeError('ndjson: `stringify` must be a function');
  }
  if (onError !== undefined && typeof onError !== 'function') {
    throw new TypeError('ndjson: `onError` must be a function');
  }

  let serialize: Serializer<T>;
  let outputCheck: OutputCheck;
  if (schema !== undefined) {
    serialize = compileSchema<T>(schema);
    outputCheck = SCHEMA_OUTPUT;
  } else if (stringify !== undefined) {
    serialize = stringify;
    outputCheck = UNTRUSTED_OUTPUT;
  } else {
    serialize = JSON.stringify;
    outputCheck = TRUSTED_OUTPUT;
  }
  return createBatchEncoder(serialize, outputCheck, onError);
}

function createBatchEncoder<T>(
  serialize: Serializer<T>,
  outputCheck: OutputCheck,
  defaultOnError: ((error: unknown, value: T) => void) | undefined,
): BatchEncoder<T> {
  // The slow path: resumes after the first bad value with a guard around each value. Called
  // at most once a batch, so a batch of good values pays for no per-value try/catch.
  function finishBatch(
    batch: readonly T[],
    badIndex: number,
    badError: unknown,
    text: string,
    onError: ((error: unknown, value: T) => void) | undefined,
  ): string | undefined {
    onError?.(badError, batch[badIndex]);
    let count = badIndex;
    for (let index = badIndex + 1; index < batch.length; index++) {
      const value = batch[index];
      let serialized: unknown;
      if (isRawJson(value)) {
        serialized = value.json;
      } else {
        let thrown = false;
        let thrownError: unknown;
        try {
          serialized = serialize(value);
        } catch (error) {
          thrown = true;
          thrownError = error;
        }
        // onError runs outside the try above so that its own throw reaches the subscriber.
        if (thrown) {
          onError?.(thrownError, value);
          continue;
        }
        const rejection = rejectOutput(serialized, outputCheck);
        if (rejection !== undefined) {
          onError?.(rejection, value);
          continue;
        }
      }
      text = count === 0 ? (serialized as string) : text + '\n' + (serialized as string);
      count++;
    }
    return count === 0 ? undefined : text;
  }

  return function encodeBatch(batch, onError = defaultOnError) {
    const length = batch.length;
    let text = '';
    let index = 0;
    let serialized: unknown;
    try {
      for (; index < length; index++) {
        const value = batch[index];
        if (isRawJson(value)) {
          // Checked once, when it was made: neither serialized nor scanned again.
          serialized = value.json;
        } else {
          serialized = serialize(value);
          if (
            typeof serialized !== 'string' ||
            (outputCheck !== TRUSTED_OUTPUT && isUnframable(serialized, outputCheck))
          ) {
            break;
          }
        }
        // Concatenation measured faster than push + join for batches of small values.
        text = index === 0 ? (serialized as string) : text + '\n' + (serialized as string);
      }
    } catch (error) {
      return finishBatch(batch, index, error, text, onError);
    }
    if (index < length) {
      return finishBatch(batch, index, rejectOutput(serialized, outputCheck), text, onError);
    }
    return length === 0 ? undefined : text;
  };
}

function isUnframable(serialized: string, outputCheck: OutputCheck): boolean {
  return (
    serialized === 'undefined' ||
    // Scanning for "\n" costs about a third of the schema path, so only custom output pays it.
    (outputCheck === UNTRUSTED_OUTPUT && (serialized.length === 0 || serialized.includes('\n')))
  );
}

function rejectOutput(serialized: unknown, outputCheck: OutputCheck): TypeError | undefined {
  if (typeof serialized !== 'string' || serialized === 'undefined') {
    return new TypeError(
      `ndjson: value is not JSON-serializable (the serializer returned ${
        typeof serialized === 'string' ? "the text 'undefined'" : typeof serialized
      })`,
    );
  }
  if (outputCheck !== UNTRUSTED_OUTPUT) {
    return undefined;
  }
  if (serialized.length === 0) {
    return new TypeError('ndjson: the serializer returned an empty string, not a JSON text');
  }
  if (serialized.includes('\n')) {
    return new TypeError(
      'ndjson: the serialized value contains a raw "\\n", which would break NDJSON framing',
    );
  }
  return undefined;
}
