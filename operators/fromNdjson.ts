import { Observable, type OperatorFunction } from 'rxjs';

/**
 * Parses one NDJSON text into its values.
 *
 * <span class="informal">The inverse of what {@link ndjson} emits for one batch.</span>
 *
 * The text is split on `"\n"`; each line is parsed with `JSON.parse`. Empty and
 * whitespace-only lines are skipped, so a trailing newline and `"\r\n"` line endings are
 * tolerated.
 *
 * ## Example
 *
 * ```ts
 * import { parseNdjson } from 'ws-outbox/operators';
 *
 * parseNdjson('{"type":"a"}\n{"type":"b"}\n'); // [{ type: 'a' }, { type: 'b' }]
 * ```
 *
 * @param text An NDJSON text: JSON values, one per line.
 * @returns The values, in line order.
 * @throws {SyntaxError} When a line is not valid JSON; the message names the line (counted
 * from 1) and the original error is its `cause`.
 */
export function parseNdjson(text: string): unknown[] {
  const lines = text.split('\n');
  const values: unknown[] = [];
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index];
    if (line.length === 0) {
      continue;
    }
    try {
      values.push(JSON.parse(line));
    } catch (error) {
      // Only a failed line pays for the whitespace test, not every good one.
      if (line.trim().length === 0) {
        continue;
      }
      const reason = error instanceof Error ? error.message : String(error);
      throw new SyntaxError(`Invalid NDJSON at line ${index + 1}: ${reason}`, { cause: error });
    }
  }
  return values;
}

/**
 * Turns each NDJSON text of the source into its values, emitted one by one in order.
 *
 * <span class="informal">The parse side of {@link ndjson}: for clients and for other
 * transports that receive NDJSON text frames.</span>
 *
 * Each text is parsed with {@link parseNdjson}. Values are emitted in the order of the texts
 * and, within a text, of the lines, even when a downstream subscriber pushes another text into
 * the source synchronously (that text waits until the current one is emitted). A text with an
 * invalid line errors the output with the `SyntaxError` of {@link parseNdjson}, after the
 * values of any texts received before it; no value of the bad text is emitted.
 *
 * ## Example
 *
 * ```ts
 * import { fromEvent, map } from 'rxjs';
 * import { fromNdjson } from 'ws-outbox/operators';
 *
 * fromEvent<MessageEvent<string>>(socket, 'message')
 *   .pipe(
 *     map((event) => event.data),
 *     fromNdjson<{ type: string }>(),
 *   )
 *   .subscribe((message) => console.log(message.type));
 * ```
 *
 * ```
 * source: -a---b---c---|   a = '1\n2', b = '{"x":1}\r\n', c = ''
 * fromNdjson()
 * output: -(12)x-------|   x = {x: 1}
 * ```
 *
 * @see {@link ndjson}
 * @see {@link parseNdjson}
 *
 * @returns A function that returns an Observable of the values of each NDJSON text of the
 * source, in order.
 */
export function fromNdjson<T = unknown>(): OperatorFunction<string, T> {
  return (source) =>
    new Observable<T>((subscriber) => {
      let emitting = false;
      let completePending = false;
      const backlog: string[] = [];

      const emitValues = (text: string): void => {
        let values: unknown[];
        try {
          values = parseNdjson(text);
        } catch (error) {
          subscriber.error(error);
          return;
        }
        for (let index = 0; index < values.length && !subscriber.closed; index++) {
          subscriber.next(values[index] as T);
        }
      };

      return source.subscribe({
        next(text) {
          if (emitting) {
            backlog.push(text);
            return;
          }
          emitting = true;
          try {
            emitValues(text);
            while (backlog.length > 0 && !subscriber.closed) {
              emitValues(backlog.shift() as string);
            }
          } finally {
            emitting = false;
          }
          if (completePending) {
            subscriber.complete();
          }
        },
        error: (error: unknown) => subscriber.error(error),
        complete() {
          // A source that completes inside a downstream next still owes its backlog.
          if (emitting) {
            completePending = true;
          } else {
            subscriber.complete();
          }
        },
      });
    });
}
