/**
 * Helpers for marble tests of your own pipelines: {@link createVirtualSocket}, a WebSocket in
 * virtual time whose reading is a marble and whose frames are an Observable.
 *
 * @module ws-outbox/testing
 */
export { createVirtualSocket, decodeFrameSync } from './virtualSocket.js';
export type { VirtualFrame, VirtualSocket, VirtualSocketOptions } from './virtualSocket.js';
