/** What `bench/idle.ts` and its server child share. */

export type IdleArm = 'ws' | 'socket.io' | 'ws-outbox';
export const IDLE_ARMS: readonly IdleArm[] = ['ws', 'socket.io', 'ws-outbox'];

/** The phases the parent asks each arm for; only ws-outbox has the last two. */
export type IdlePhase = 'idle' | 'active' | 'idle again';

/** One reading of the server: what its connections add to the heap and RSS since it listened. */
export interface Measured {
  [key: string]: unknown;
  type: 'measured';
  phase: IdlePhase;
  connections: number;
  heapBytes: number;
  rssBytes: number;
}
