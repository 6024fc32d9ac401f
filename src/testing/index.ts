export { createVirtualSocket, decodeFrameSync } from './virtualSocket.js';
export type { VirtualFrame, VirtualSocket, VirtualSocketOptions } from './virtualSocket.js';
