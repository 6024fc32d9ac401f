import { Observable } from 'rxjs';
import type { MonoTypeOperatorFunction, SchedulerLike, Subscription } from 'rxjs';
import type { OperationEvent } from './handler.js';

/**
 * Lets at most one progress event through per `intervalMs`, the latest winning; results pass at
 * once.
 *
 * <span class="informal">`throttleTime(intervalMs, scheduler, { leading: true, trailing: true
 * })` for the progress events, with one difference: a progress held for the end of its window
 * is discarded when a result or the end comes first.</span>
 *
 * The first progress after a quiet period goes out at once and opens a window of `intervalMs`;
 * progress during the window is held, each replacing the last; at the window's end the held one
 * goes out and opens the next window. A result or the end supersedes a held progress: sending
 * it before would break the one-per-interval promise, after would show a client stale
 * progress behind newer news, and holding the result back for it would delay what the client
 * is waiting for.
 *
 * ## Example
 *
 * ```ts
 * handler(data, context).pipe(throttleProgress(100, scheduler));
 * ```
 *
 * @param intervalMs The least time between two progress events.
 * @param scheduler Times the windows.
 * @returns An operator on operation events.
 */
export function throttleProgress(
  intervalMs: number,
  scheduler: SchedulerLike,
): MonoTypeOperatorFunction<OperationEvent> {
  return (source) =>
    new Observable<OperationEvent>((subscriber) => {
      let held: OperationEvent | undefined;
      let window: Subscription | undefined;

      // Opened before the event goes out, so a subscriber that unsubscribes in its `next`
      // finds the window there to release.
      const emitAndOpenWindow = (event: OperationEvent): void => {
        window = scheduler.schedule(() => {
          window = undefined;
          const next = held;
          held = undefined;
          if (next) emitAndOpenWindow(next);
        }, intervalMs);
        subscriber.next(event);
      };

      const subscription = source.subscribe({
        next: (event) => {
          if (event.kind === 'result') {
            held = undefined;
            subscriber.next(event);
          } else if (window) {
            held = event;
          } else {
            emitAndOpenWindow(event);
          }
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });

      return () => {
        subscription.unsubscribe();
        window?.unsubscribe();
        held = undefined;
      };
    });
}
