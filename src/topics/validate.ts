/**
 * The checks every `TopicStore` applies to its arguments, shared so that all stores refuse the
 * same inputs with the same errors. The messages describe the rule, never the value, so they are
 * safe to pass on to a client.
 */

/** The longest topic name accepted by default, in UTF-16 code units (string `length`). */
export const DEFAULT_MAX_TOPIC_LENGTH = 256;

/**
 * Whether a value is a topic name: a non-empty string of at most `maxLength` characters.
 * @param topic The value.
 * @param maxLength The longest name accepted.
 */
export function isTopicName(topic: unknown, maxLength = DEFAULT_MAX_TOPIC_LENGTH): topic is string {
  return typeof topic === 'string' && topic.length > 0 && topic.length <= maxLength;
}

/** Whether a value is an offset or a count: a non-negative safe integer. */
export function isOffset(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/**
 * Checks a topic name: a non-empty string of at most `maxLength` characters.
 * @param topic The name to check.
 * @param maxLength The longest name accepted.
 * @throws {TypeError} When it is not one.
 */
export function assertTopicName(
  topic: unknown,
  maxLength = DEFAULT_MAX_TOPIC_LENGTH,
): asserts topic is string {
  if (!isTopicName(topic, maxLength)) {
    throw new TypeError(`topic must be a non-empty string of at most ${maxLength} characters`);
  }
}

/**
 * Checks what is appended: a non-empty array of non-empty strings with no raw newline (each is
 * one line of an NDJSON frame).
 * @param data The publications' data.
 * @throws {TypeError} When it is not that.
 */
export function assertPublicationData(data: unknown): asserts data is readonly string[] {
  if (!Array.isArray(data) || data.length === 0) {
    throw new TypeError('data must be a non-empty array of strings');
  }
  for (const item of data) {
    if (typeof item !== 'string' || item.length === 0 || item.includes('\n')) {
      throw new TypeError('each publication must be a non-empty string with no raw newline');
    }
  }
}

/**
 * Checks an offset or a count: a non-negative safe integer.
 * @param name What it is, for the message (`after`, `limit`).
 * @param value The value to check.
 * @throws {TypeError} When it is not a number.
 * @throws {RangeError} When it is a number but not a non-negative safe integer.
 */
export function assertCount(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number`);
  if (!isOffset(value)) {
    throw new RangeError(`${name} must be a non-negative safe integer`);
  }
}
