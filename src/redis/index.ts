/**
 * `ws-outbox/redis`: topics and resume across processes, on Redis Streams and pub/sub.
 * Needs the optional peer dependency `redis` (node-redis 6).
 */
export { RedisTopicStore } from './redisTopicStore.js';
export type { RedisTopicStoreOptions } from './options.js';
export type { RedisTopicStoreCounters } from './counters.js';
export type { RedisCommandClient, RedisSubscriberClient, ChannelListener } from './client.js';
export {
  TopicStoreUnavailableError,
  TopicStoreOverloadedError,
  TopicStoreClosedError,
} from './errors.js';
