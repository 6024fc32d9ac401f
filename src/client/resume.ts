import type { TopicPosition } from './topics.js';

/** The query parameter that carries the positions of server-joined topics on a reconnect. */
export const RESUME_PARAMETER = 'resume';
/** The most topics the resume parameter names. */
export const MAX_RESUME_TOPICS = 32;
/** The longest the resume parameter's value may be, URL-encoded, in characters (4 KiB). */
export const MAX_RESUME_LENGTH = 4096;

// encodeURIComponent('{}') and encodeURIComponent(',').
const BRACES_LENGTH = 6;
const COMMA_LENGTH = 3;

/**
 * The value of the resume parameter: the JSON object `{"<topic>":["<epoch>",<offset>],…}`.
 *
 * <span class="informal">Most recently active first, as many as fit: at most
 * {@link MAX_RESUME_TOPICS} topics and {@link MAX_RESUME_LENGTH} characters once
 * URL-encoded.</span>
 *
 * A topic whose entry alone would not fit is left out and the next ones are still tried. The
 * topics left out resume nothing: the server joins them afresh, and the client reports it (a
 * recovery with reason `not_resumed`).
 *
 * @param positions Topics and their positions, most recently active first.
 * @returns The JSON text (not yet URL-encoded), or `undefined` when there is nothing to resume.
 */
export function resumeValue(
  positions: Iterable<readonly [string, TopicPosition]>,
): string | undefined {
  const entries: string[] = [];
  let length = BRACES_LENGTH;
  for (const [topic, { epoch, offset }] of positions) {
    if (entries.length === MAX_RESUME_TOPICS) break;
    // JSON.stringify escapes lone surrogates, so encodeURIComponent cannot throw on its output.
    const entry = `${JSON.stringify(topic)}:${JSON.stringify([epoch, offset])}`;
    const added = encodeURIComponent(entry).length + (entries.length > 0 ? COMMA_LENGTH : 0);
    if (length + added > MAX_RESUME_LENGTH) continue;
    entries.push(entry);
    length += added;
  }
  return entries.length === 0 ? undefined : `{${entries.join(',')}}`;
}

/**
 * `url` with query parameter `name` set to `value` (URL-encoded), replacing one of that name.
 *
 * <span class="informal">Done on the string, so that the rest of the URL (an auth token, say)
 * stays byte for byte as given, and relative URLs work where the WebSocket takes them.</span>
 *
 * @param url A `ws:` or `wss:` URL.
 * @param name The parameter's name, URL-safe.
 * @param value The parameter's value, before encoding.
 * @returns The URL with the parameter.
 */
export function withQueryParameter(url: string, name: string, value: string): string {
  const hashAt = url.indexOf('#');
  const hash = hashAt === -1 ? '' : url.slice(hashAt);
  const beforeHash = hashAt === -1 ? url : url.slice(0, hashAt);
  const queryAt = beforeHash.indexOf('?');
  const path = queryAt === -1 ? beforeHash : beforeHash.slice(0, queryAt);
  const parameters =
    queryAt === -1
      ? []
      : beforeHash
          .slice(queryAt + 1)
          .split('&')
          .filter((parameter) => parameter !== '' && parameter.split('=', 1)[0] !== name);
  parameters.push(`${name}=${encodeURIComponent(value)}`);
  return `${path}?${parameters.join('&')}${hash}`;
}
