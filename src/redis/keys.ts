/**
 * The Redis names of one topic. Every key carries the topic's name as its hash tag (`{topic}`),
 * so a cluster keeps them on one slot and one script can touch them all.
 */
export interface TopicKeys {
  /** Hash: `epoch` (opaque) and `top` (the last offset given in that epoch). */
  readonly meta: string;
  /** Stream: one entry per publication, id `<offset>-0`, field `d` holding the data. */
  readonly log: string;
  /** Pub/sub channel announcing each batch appended. */
  readonly channel: string;
}

/**
 * Names the keys and channel of a topic.
 * @param prefix The store's key prefix.
 * @param topic The topic's name.
 * @returns The topic's key names.
 */
export function topicKeys(prefix: string, topic: string): TopicKeys {
  const base = `${prefix}{${topic}}`;
  return { meta: `${base}:meta`, log: `${base}:log`, channel: `${base}:pub` };
}

/**
 * Names the key in which one producer (one store instance) records its last batch appended to
 * a topic, so that a retried script call is not applied twice.
 * @param prefix The store's key prefix.
 * @param topic The topic's name.
 * @param producer The producer's id.
 * @returns The key's name.
 */
export function producerKey(prefix: string, topic: string, producer: string): string {
  return `${prefix}{${topic}}:producer:${producer}`;
}
