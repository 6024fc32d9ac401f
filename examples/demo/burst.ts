import { Observable } from 'rxjs';
import type { SchedulerLike } from 'rxjs';
import { OperationError, progress, result } from '../../src/index.js';
import type { OperationEvent } from '../../src/index.js';

/** Messages of a burst, and the most one may ask for. */
export const BURST_SIZE = 20_000;

/** Messages queued per event-loop turn: a burst never holds the loop for long. */
export const BURST_CHUNK = 500;

/** What a burst costs against its connection's rate limit (a burst of 2,000 frames, 100 a second). */
export const BURST_COST = 200;

/** What a burst puts in the outbox, `BURST_SIZE` times. */
export interface BurstMessage {
  readonly type: 'tick';
  readonly n: number;
}

/** What a burst reports: `burst.progress` after each chunk, `burst.result` at the end. */
export interface BurstReport {
  /** Messages given to the outbox so far. */
  readonly sent: number;
  /** Of those, how many it dropped at once (its buffer was full: a slow reader). */
  readonly dropped: number;
  readonly total: number;
}

/** Where a burst goes: the connection's outbox. */
export interface BurstTarget {
  send(message: BurstMessage): boolean;
}

/**
 * The `burst` operation: `{"type":"burst","id":…,"data":{"count"?}}` puts `count` (default and
 * at most {@link BURST_SIZE}) small messages into the connection's own outbox, as fast as the
 * server can, {@link BURST_CHUNK} per turn, without waiting for the socket: the outbox batches
 * them into a few frames, or, when the client reads slowly, holds what its bounds allow and
 * drops the rest (counted). Progress after each chunk; the result says how many were dropped.
 */
export function burst(
  data: unknown,
  target: BurstTarget,
  scheduler: SchedulerLike,
): Observable<OperationEvent<BurstReport, BurstReport>> {
  const total = readCount(data);
  return new Observable((subscriber) => {
    let sent = 0;
    let dropped = 0;
    const report = (): BurstReport => ({ sent, dropped, total });
    return scheduler.schedule(function () {
      const end = Math.min(total, sent + BURST_CHUNK);
      while (sent < end) {
        if (!target.send({ type: 'tick', n: ++sent })) dropped++;
      }
      if (sent < total) {
        subscriber.next(progress(report()));
        this.schedule(undefined, 0);
        return;
      }
      subscriber.next(result(report()));
      subscriber.complete();
    }, 0);
  });
}

function readCount(data: unknown): number {
  if (data === undefined || data === null) return BURST_SIZE;
  const count = (data as { count?: unknown }).count;
  if (count === undefined) return BURST_SIZE;
  if (!Number.isInteger(count) || (count as number) < 1 || (count as number) > BURST_SIZE) {
    throw new OperationError(`data.count must be an integer from 1 to ${BURST_SIZE}.`, {
      code: 'bad_request',
    });
  }
  return count as number;
}
