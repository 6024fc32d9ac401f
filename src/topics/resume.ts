import type { TopicPosition } from './store.js';
import { isOffset } from './validate.js';

/** The query parameter a client hands its positions in, for the topics the server joins. */
export const RESUME_PARAMETER = 'resume';
/** The most topics a `resume` parameter may name. */
export const MAX_RESUME_TOPICS = 32;
/** The longest `resume` value accepted, in characters as it appears in the URL (encoded). */
export const MAX_RESUME_LENGTH = 4_096;

/**
 * Reads the positions a reconnecting client put in its connection URL, for the topics the
 * server joins it to (`?resume=` + the URL-encoded JSON `{"<topic>": ["<epoch>", <offset>]}`).
 *
 * <span class="informal">`ConnectionManager.connect(ws, { request })` calls it for you; call it
 * yourself to look at the positions, or to take them from elsewhere.</span>
 *
 * A parameter that is not exactly that shape (not JSON, not an object, an entry that is not
 * `[string, integer ≥ 0]`, more than {@link MAX_RESUME_TOPICS} topics, or over
 * {@link MAX_RESUME_LENGTH} characters) is ignored as a whole: the topics start fresh, and the
 * client, which held positions, learns from their `subscribed` that it may have missed some.
 *
 * ## Example
 *
 * ```ts
 * import { resumePositions } from 'ws-outbox';
 *
 * const url = '/ws?resume=' + encodeURIComponent(JSON.stringify({ 'user:42': ['e1', 118] }));
 * resumePositions(url); // Map { 'user:42' => { epoch: 'e1', offset: 118 } }
 * ```
 *
 * @param url The request's URL (`request.url`: a path with its query is enough).
 * @returns The positions by topic, or `undefined` when the URL has none (or an invalid one).
 */
export function resumePositions(url: string | undefined): Map<string, TopicPosition> | undefined {
  if (url === undefined) return undefined;
  const query = url.indexOf('?');
  if (query < 0) return undefined;
  const search = url.slice(query + 1);
  const raw = rawParameter(search, RESUME_PARAMETER);
  if (raw === undefined || raw.length > MAX_RESUME_LENGTH) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(new URLSearchParams(`${RESUME_PARAMETER}=${raw}`).get(RESUME_PARAMETER)!);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const entries = Object.entries(value);
  if (entries.length > MAX_RESUME_TOPICS) return undefined;
  const positions = new Map<string, TopicPosition>();
  for (const [topic, position] of entries) {
    if (
      !Array.isArray(position) ||
      position.length !== 2 ||
      typeof position[0] !== 'string' ||
      !isOffset(position[1])
    ) {
      return undefined;
    }
    positions.set(topic, { epoch: position[0], offset: position[1] });
  }
  return positions;
}

/** The parameter's value as it stands in the query, still encoded; the last one wins. */
function rawParameter(search: string, name: string): string | undefined {
  let found: string | undefined;
  for (const pair of search.split('&')) {
    const equals = pair.indexOf('=');
    const key = equals < 0 ? pair : pair.slice(0, equals);
    if (key === name) found = equals < 0 ? '' : pair.slice(equals + 1);
  }
  return found;
}
