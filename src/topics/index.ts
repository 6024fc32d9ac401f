export { MemoryTopicStore, PUBLICATION_OVERHEAD_BYTES } from './memoryStore.js';
export type { MemoryTopicStoreOptions } from './memoryStore.js';
export { DEFAULT_MAX_TOPIC_LENGTH } from './validate.js';
export type {
  AppendResult,
  HistoryPage,
  StoredPublication,
  TopicEvent,
  TopicPosition,
  TopicStore,
  TopicWatch,
} from './store.js';
