import { asyncScheduler } from 'rxjs';
import type { SchedulerAction, SchedulerLike, Subscription } from 'rxjs';

/** A scheduler that knows how many of the actions scheduled through it are still due. */
export interface CountingScheduler extends SchedulerLike {
  /** Actions scheduled and neither run nor cancelled: timers something still holds. */
  readonly live: number;
  /** Actions scheduled so far. */
  readonly scheduled: number;
}

/**
 * Wraps a scheduler (default `asyncScheduler`) to count the actions still due, so a test can
 * tell exactly whether the code under test released every timer it started, which the
 * process-wide timer count cannot do while jest's own timers come and go.
 */
export function countingScheduler(inner: SchedulerLike = asyncScheduler): CountingScheduler {
  const due = new Set<object>();
  let scheduled = 0;
  return {
    get live() {
      return due.size;
    },
    get scheduled() {
      return scheduled;
    },
    now: () => inner.now(),
    schedule<S>(
      work: (this: SchedulerAction<S>, state?: S) => void,
      delay?: number,
      state?: S,
    ): Subscription {
      const token = {};
      due.add(token);
      scheduled++;
      const subscription = inner.schedule<S>(
        function (this: SchedulerAction<S>, s?: S) {
          due.delete(token);
          work.call(this, s);
        },
        delay,
        state,
      );
      subscription.add(() => due.delete(token));
      return subscription;
    },
  };
}
