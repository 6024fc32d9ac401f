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
export {
  MAX_RESUME_LENGTH,
  MAX_RESUME_TOPICS,
  RESUME_PARAMETER,
  resumePositions,
} from './resume.js';
export type { TopicsOptions } from './hub.js';
export type { NotResumedReason, TopicErrorCode } from './messages.js';
