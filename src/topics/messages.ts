import { RawJson } from '../../operators/rawJson.js';
import type { WsOutbox } from '../wsOutbox.js';
import type { TopicPosition } from './store.js';

/** Why a `since` could not be resumed, as `subscribed`'s `reason` says it. */
export type NotResumedReason = 'epoch' | 'too_old' | 'too_many';

/** The codes of `{type:"error", topic, code}`. */
export type TopicErrorCode = 'forbidden' | 'bad_request' | 'rate_limited' | 'unavailable';

/** Sends a protocol answer on a connection: answers are never dropped by overflow. */
export function answer(outbox: WsOutbox<unknown>, message: RawJson): void {
  outbox.send(message, { critical: true });
}

/**
 * One publication's line, `{"type":"pub","topic":…,"offset":…,"data":…}`, built by
 * concatenation: the data is serialized once, when published, and the topic's JSON once per node.
 * @param topicJson The topic's name as a JSON string.
 * @param offset The publication's offset.
 * @param data The publication's data, one line of JSON.
 */
export function pubLine(topicJson: string, offset: number, data: string): string {
  return `{"type":"pub","topic":${topicJson},"offset":${offset},"data":${data}}`;
}

/** `subscribed` for a subscription that starts from now on. */
export function freshSubscribed(topic: string, position: TopicPosition): RawJson {
  return line({ type: 'subscribed', topic, epoch: position.epoch, offset: position.offset });
}

/** `subscribed` for a `since` resumed: the missed publications follow. */
export function resumedSubscribed(topic: string, since: TopicPosition, replayed: number): RawJson {
  return line({
    type: 'subscribed',
    topic,
    epoch: since.epoch,
    offset: since.offset,
    recovered: true,
    replayed,
  });
}

/** `subscribed` for a position that could not be resumed: the application must refetch. */
export function notResumedSubscribed(
  topic: string,
  position: TopicPosition,
  reason: NotResumedReason,
): RawJson {
  return line({
    type: 'subscribed',
    topic,
    epoch: position.epoch,
    offset: position.offset,
    recovered: false,
    reason,
  });
}

/** `gap`: this socket dropped publications of the topic after `after`. */
export function gapMessage(topic: string, after: number): RawJson {
  return line({ type: 'gap', topic, after });
}

/** `unsubscribed`: no publication of the topic follows. */
export function unsubscribedMessage(topic: string): RawJson {
  return line({ type: 'unsubscribed', topic });
}

const ERROR_TEXTS: Record<TopicErrorCode, string> = {
  forbidden: 'This connection may not follow this topic.',
  bad_request:
    'A topic request needs "topic", a string of 1 to 256 characters, and an optional ' +
    '"since": {"epoch": string, "offset": integer >= 0}.',
  rate_limited: 'This connection follows, or asks for, too many topics; slow down.',
  unavailable: "The server cannot reach its topics' storage right now; try again later.",
};

/** `{type:"error", topic, code, message}`, with a fixed text per code. */
export function topicError(topic: string | undefined, code: TopicErrorCode): RawJson {
  return line(
    topic === undefined
      ? { type: 'error', code, message: ERROR_TEXTS[code] }
      : { type: 'error', topic, code, message: ERROR_TEXTS[code] },
  );
}

function line(message: object): RawJson {
  return new RawJson(JSON.stringify(message));
}
