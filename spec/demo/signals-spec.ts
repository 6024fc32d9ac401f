import { EventEmitter } from 'node:events';
import { VirtualTimeScheduler } from 'rxjs';
import { exitOnSignals } from '../../examples/demo/signals.js';

/** SIGTERM and SIGINT in virtual time: the process and its exit are stand-ins. */

function setup(close: () => Promise<void>) {
  const signals = new EventEmitter();
  const scheduler = new VirtualTimeScheduler();
  const exits: Array<[number, number]> = [];
  const lines: string[] = [];
  let closes = 0;
  const stop = exitOnSignals(
    {
      close: () => {
        closes++;
        return close();
      },
    },
    {
      timeoutMs: 10_000,
      signals,
      scheduler,
      exit: (code) => exits.push([scheduler.now(), code]),
      log: (line) => lines.push(line),
    },
  );
  /** Runs the virtual clock to `time`. */
  const advanceTo = (time: number) => {
    scheduler.schedule(() => undefined, time - scheduler.now());
    scheduler.maxFrames = time;
    scheduler.flush();
  };
  return { signals, exits, lines, stop, advanceTo, closes: () => closes };
}

describe('exitOnSignals', () => {
  it('closes the server on SIGTERM and exits 0 once it has closed', async () => {
    let closed!: () => void;
    const s = setup(() => new Promise<void>((resolve) => (closed = resolve)));
    s.signals.emit('SIGTERM', 'SIGTERM');
    expect(s.closes()).toBe(1);
    s.advanceTo(3_000);
    expect(s.exits).toEqual([]);
    closed();
    await Promise.resolve();
    expect(s.exits).toEqual([[3_000, 0]]);
    // The deadline went with it: nothing more at 10 s.
    s.advanceTo(20_000);
    expect(s.exits).toEqual([[3_000, 0]]);
    expect(s.lines[0]).toMatch(/^SIGTERM: closing connections/);
  });

  it('exits 1 at the deadline when the close never ends, not a millisecond before', () => {
    const s = setup(() => new Promise<void>(() => undefined));
    s.signals.emit('SIGINT', 'SIGINT');
    s.advanceTo(9_999);
    expect(s.exits).toEqual([]);
    s.advanceTo(10_000);
    expect(s.exits).toEqual([[10_000, 1]]);
    expect(s.lines.at(-1)).toMatch(/did not finish within 10000 ms/);
  });

  it('exits 1 at once on a second signal, without closing again', () => {
    const s = setup(() => new Promise<void>(() => undefined));
    s.signals.emit('SIGTERM', 'SIGTERM');
    s.advanceTo(500);
    s.signals.emit('SIGINT', 'SIGINT');
    expect(s.exits).toEqual([[500, 1]]);
    expect(s.closes()).toBe(1);
    s.advanceTo(20_000);
    expect(s.exits).toEqual([[500, 1]]);
  });

  it('exits 1 when the close fails', async () => {
    const s = setup(() => Promise.reject(new Error('port gone')));
    s.signals.emit('SIGTERM', 'SIGTERM');
    await Promise.resolve();
    await Promise.resolve();
    expect(s.exits).toEqual([[0, 1]]);
    expect(s.lines.at(-1)).toBe('shutdown failed: port gone');
  });

  it('stops listening when told to', () => {
    const s = setup(() => Promise.resolve());
    s.stop();
    expect(s.signals.listenerCount('SIGTERM') + s.signals.listenerCount('SIGINT')).toBe(0);
  });
});
