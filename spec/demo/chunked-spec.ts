import { lastValueFrom, toArray } from 'rxjs';
import { chunked } from '../../examples/demo/memory/chunked.js';
import type { Defer } from '../../examples/demo/memory/chunked.js';

/** A Defer the test drives: each chunk waits until `runNext()`. */
function manualDefer() {
  const queue: Array<() => void> = [];
  let cancelled = 0;
  const defer: Defer = (work) => {
    queue.push(work);
    return () => {
      const at = queue.indexOf(work);
      if (at >= 0) queue.splice(at, 1);
      cancelled++;
    };
  };
  return {
    defer,
    get pending() {
      return queue.length;
    },
    get cancelled() {
      return cancelled;
    },
    runNext: () => queue.shift()!(),
  };
}

describe('chunked', () => {
  it('runs every item once, in chunks, with progress after each and the result last', async () => {
    const seen: number[] = [];
    const events = await lastValueFrom(
      chunked({
        total: 7,
        chunkSize: 3,
        signal: new AbortController().signal,
        step: (start, end) => {
          for (let i = start; i < end; i++) seen.push(i);
        },
        finish: () => seen.length,
      }).pipe(toArray()),
    );
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(events).toEqual([
      { kind: 'progress', value: { scanned: 3, total: 7 } },
      { kind: 'progress', value: { scanned: 6, total: 7 } },
      { kind: 'progress', value: { scanned: 7, total: 7 } },
      { kind: 'result', data: 7 },
    ]);
  });

  it('yields between chunks: one chunk per deferred call, none synchronously', () => {
    const manual = manualDefer();
    const chunks: number[] = [];
    chunked({
      total: 10,
      chunkSize: 5,
      signal: new AbortController().signal,
      step: (start) => chunks.push(start),
      finish: () => undefined,
      defer: manual.defer,
    }).subscribe();
    expect(chunks).toEqual([]);
    manual.runNext();
    expect(chunks).toEqual([0]);
    expect(manual.pending).toBe(1);
    manual.runNext();
    expect(chunks).toEqual([0, 5]);
    expect(manual.pending).toBe(0);
  });

  it('settles after the items, one slice per deferred call and no progress, then the result', () => {
    const manual = manualDefer();
    const events: unknown[] = [];
    let slices = 0;
    const subscription = chunked({
      total: 4,
      chunkSize: 4,
      signal: new AbortController().signal,
      step: () => undefined,
      settle: () => ++slices === 3,
      finish: () => slices,
      defer: manual.defer,
    }).subscribe((event) => events.push(event));
    manual.runNext(); // the items
    expect(events).toEqual([{ kind: 'progress', value: { scanned: 4, total: 4 } }]);
    expect(slices).toBe(0);
    manual.runNext();
    manual.runNext();
    expect([slices, events.length, manual.pending]).toEqual([2, 1, 1]);
    manual.runNext();
    expect(events.at(-1)).toEqual({ kind: 'result', data: 3 });
    expect(subscription.closed).toBe(true);
  });

  it('unsubscribing while it settles cancels the next slice', () => {
    const manual = manualDefer();
    let slices = 0;
    const subscription = chunked({
      total: 1,
      chunkSize: 1,
      signal: new AbortController().signal,
      step: () => undefined,
      settle: () => (slices++, false),
      finish: () => undefined,
      defer: manual.defer,
    }).subscribe();
    manual.runNext();
    manual.runNext();
    subscription.unsubscribe();
    expect([slices, manual.pending, manual.cancelled]).toEqual([1, 0, 1]);
  });

  it('unsubscribing cancels the next chunk: no more work', () => {
    const manual = manualDefer();
    let chunks = 0;
    const subscription = chunked({
      total: 100,
      chunkSize: 10,
      signal: new AbortController().signal,
      step: () => void chunks++,
      finish: () => undefined,
      defer: manual.defer,
    }).subscribe();
    manual.runNext();
    manual.runNext();
    subscription.unsubscribe();
    expect(manual.pending).toBe(0);
    expect(manual.cancelled).toBe(1);
    expect(chunks).toBe(2);
  });

  it('stops on an aborted signal, erroring with its reason, even when nobody unsubscribes', () => {
    const manual = manualDefer();
    const controller = new AbortController();
    let chunks = 0;
    const errors: unknown[] = [];
    chunked({
      total: 100,
      chunkSize: 10,
      signal: controller.signal,
      step: () => {
        // Aborted during a chunk, as a timeout firing inside it would.
        if (++chunks === 2) controller.abort(new Error('stop'));
      },
      finish: () => undefined,
      defer: manual.defer,
      onChunk: () => undefined,
    }).subscribe({ error: (error: unknown) => errors.push(error) });
    manual.runNext();
    manual.runNext();
    expect(chunks).toBe(2);
    expect(errors).toEqual([new Error('stop')]);
    expect(manual.pending).toBe(0);
  });

  it('stops when a subscriber unsubscribes from inside a progress event', () => {
    const manual = manualDefer();
    let chunks = 0;
    const subscription = chunked({
      total: 100,
      chunkSize: 10,
      signal: new AbortController().signal,
      step: () => void chunks++,
      finish: () => undefined,
      defer: manual.defer,
    }).subscribe(() => subscription.unsubscribe());
    manual.runNext();
    expect(chunks).toBe(1);
    expect(manual.pending).toBe(0);
  });

  it('turns a throw in a chunk into an error, and runs no more chunks', () => {
    const manual = manualDefer();
    const errors: unknown[] = [];
    chunked({
      total: 100,
      chunkSize: 10,
      signal: new AbortController().signal,
      step: () => {
        throw new Error('broken');
      },
      finish: () => undefined,
      defer: manual.defer,
    }).subscribe({ error: (error: unknown) => errors.push(error) });
    manual.runNext();
    expect(errors).toEqual([new Error('broken')]);
    expect(manual.pending).toBe(0);
  });

  it('reports each chunk to onChunk', () => {
    const manual = manualDefer();
    const reports: unknown[] = [];
    chunked({
      total: 15,
      chunkSize: 10,
      signal: new AbortController().signal,
      step: () => undefined,
      finish: () => undefined,
      defer: manual.defer,
      onChunk: (done) => reports.push(done),
    }).subscribe();
    manual.runNext();
    manual.runNext();
    expect(reports).toEqual([
      { scanned: 10, total: 15 },
      { scanned: 15, total: 15 },
    ]);
  });
});
