import type { TestScheduler } from 'rxjs/testing';

/** Runs `work` at virtual time `time` of `scheduler`, which must not have passed. */
export function at(scheduler: TestScheduler, time: number, work: () => void): void {
  const delay = time - scheduler.now();
  if (delay < 0) throw new Error(`at(${time}): it is ${scheduler.now()} already`);
  scheduler.schedule(work, delay);
}

/** Runs `work` in the current frame of `scheduler`, after what is running now. */
export function soon(scheduler: TestScheduler, work: () => void): void {
  scheduler.schedule(work);
}
