import { OperationError } from '../../src/index.js';
import type { ClientMessage } from '../../src/index.js';

/** The topics any client may subscribe to and publish to: `room:` and a short plain name. */
export const ROOM_TOPIC = /^room:[\w.-]{1,64}$/;

/** The most a publication's `data` may take, in UTF-8 bytes of its JSON. */
export const MAX_ROOM_DATA_BYTES = 16 * 1024;

/** What a room keeps: the last 5,000 publications, at most 16 MiB, each for 2 minutes. */
export const ROOM_HISTORY = {
  maxPublications: 5_000,
  maxBytes: 16 * 1024 * 1024,
  maxAgeMs: 120_000,
} as const;

/** Whether `topic` is one a client may follow and publish to by itself. */
export const isRoom = (topic: unknown): topic is string =>
  typeof topic === 'string' && ROOM_TOPIC.test(topic);

/** `{"type":"publish","topic":"room:<name>","data":…}`, read and checked. */
export interface RoomPublication {
  readonly topic: string;
  readonly data: unknown;
}

/**
 * Reads a client's `publish`.
 * @throws OperationError `forbidden` for a topic that is not a room, `bad_request` without
 * `data` (or with data that has no JSON), `too_large` past {@link MAX_ROOM_DATA_BYTES}.
 */
export function readPublication(message: ClientMessage): RoomPublication {
  const { topic, data } = message as ClientMessage & { topic?: unknown };
  if (!isRoom(topic)) {
    throw new OperationError('Clients may publish to room:<name> topics only.', {
      code: 'forbidden',
    });
  }
  let json: string | undefined;
  try {
    json = data === undefined ? undefined : JSON.stringify(data);
  } catch {
    json = undefined;
  }
  if (json === undefined) {
    throw new OperationError('publish needs "data": any JSON value.', { code: 'bad_request' });
  }
  if (Buffer.byteLength(json) > MAX_ROOM_DATA_BYTES) {
    throw new OperationError(
      `publish "data" must be at most ${MAX_ROOM_DATA_BYTES} bytes of JSON.`,
      { code: 'too_large' },
    );
  }
  return { topic, data };
}
