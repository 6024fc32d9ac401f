/**
 * Client child of `bench/cluster.ts`: every subscriber of one run, subscriber i on node i % 3
 * and in room ⌊i / 3⌋ % rooms. Counts what each receives, checks each publisher's sequence per room
 * (a hole is a publication missed, a repeat a duplicate), and times publish-to-receive.
 *
 * When a subscriber's connection drops (its node killed), it reconnects to the next node at
 * once. A ws-outbox subscriber hands over its position in the `resume` parameter, as
 * `OutboxClient` does, and is caught up once the replay its `subscribed` announced has arrived;
 * a socket.io subscriber has nothing to resume.
 *
 *   argv: <arm> <rooms> <subscribers> <node urls, comma-separated>
 */
import { io } from 'socket.io-client';
import type { Socket as IoSocket } from 'socket.io-client';
import WebSocket from 'ws';
import { decodeFrameSync } from '../../src/testing/index.js';
import { toParent } from './child.js';
import type { IpcMessage } from './child.js';
import { roomName } from './clusterProtocol.js';
import type { ClientPhase, ClusterArm, ClusterTick } from './clusterProtocol.js';
import { epochMs, percentileSorted } from './stats.js';

const [armArg, roomsArg, subscribersArg, urlsArg] = process.argv.slice(2);
const arm = armArg as ClusterArm;
const ROOMS = Number(roomsArg);
const SUBSCRIBERS = Number(subscribersArg);
const URLS = urlsArg!.split(',');
const DRAIN_TIMEOUT_MS = 30_000;

/** A growable array of numbers. */
class Samples {
  private values = new Float64Array(1 << 14);
  length = 0;

  push(value: number): void {
    if (this.length === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = value;
  }

  sorted(): Float64Array {
    return this.values.subarray(0, this.length).sort();
  }
}

class Phase {
  received = 0;
  missed = 0;
  duplicates = 0;
  reconnected = 0;
  caughtUp = 0;
  notRecovered = 0;
  readonly latencies = new Samples();
  readonly resumes = new Samples();
}

let phase = new Phase();
let done = false;

class Subscriber {
  node: number;
  readonly room: number;
  readonly topic: string;
  /** Per publishing node, the last sequence number received. */
  readonly lastSeq = new Map<number, number>();
  epoch: string | undefined;
  offset = 0;
  openAt = 0;
  /** While resuming: the offset at which the replay is done. */
  catchUpTo: number | undefined;
  reconnecting = false;
  ready = false;
  private socket: WebSocket | IoSocket | undefined;

  constructor(
    readonly index: number,
    private readonly onReady: () => void,
  ) {
    this.node = index % URLS.length;
    // Every room on every node, whatever the number of rooms.
    this.room = Math.floor(index / URLS.length) % ROOMS;
    this.topic = roomName(this.room);
  }

  connect(): void {
    const base = `${URLS[this.node]}/?room=${encodeURIComponent(this.topic)}`;
    if (arm === 'socket.io') this.connectIo(base);
    else this.connectWs(base);
  }

  private connectWs(base: string): void {
    const resume =
      this.epoch === undefined
        ? ''
        : `&resume=${encodeURIComponent(JSON.stringify({ [this.topic]: [this.epoch, this.offset] }))}`;
    const ws = new WebSocket(base + resume);
    this.socket = ws;
    ws.binaryType = 'nodebuffer';
    ws.on('open', () => this.opened());
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const values = decodeFrameSync(isBinary ? new Uint8Array(data) : data.toString());
      const now = epochMs();
      for (const value of values) this.line(value as Record<string, unknown>, now);
    });
    ws.on('error', () => {});
    ws.on('close', () => this.lost());
  }

  private connectIo(base: string): void {
    const socket = io(base, { transports: ['websocket'], forceNew: true, reconnection: false });
    this.socket = socket;
    socket.on('connect', () => {
      this.opened();
      if (!this.ready) {
        this.ready = true;
        this.onReady();
      }
    });
    socket.on('pub', (tick: ClusterTick) => {
      const now = epochMs();
      if (this.catchUpTo !== undefined) this.caughtUp(now);
      this.tick(tick, now);
    });
    socket.on('connect_error', () => this.lost());
    socket.on('disconnect', () => this.lost());
  }

  private opened(): void {
    this.openAt = epochMs();
    this.reconnecting = false;
  }

  private line(value: Record<string, unknown>, now: number): void {
    if (value.type === 'subscribed' && value.topic === this.topic) {
      this.epoch = value.epoch as string;
      if (value.recovered === true) {
        this.catchUpTo = (value.offset as number) + (value.replayed as number);
        if (this.offset >= this.catchUpTo) this.caughtUp(now);
      } else {
        if (value.recovered === false) phase.notRecovered++;
        this.offset = value.offset as number;
        if (this.catchUpTo !== undefined) this.caughtUp(now);
      }
      if (!this.ready) {
        this.ready = true;
        this.onReady();
      }
    } else if (value.type === 'pub' && value.topic === this.topic) {
      const offset = value.offset as number;
      if (offset <= this.offset) {
        phase.duplicates++;
        return;
      }
      this.offset = offset;
      this.tick(value.data as ClusterTick, now);
      if (this.catchUpTo !== undefined && offset >= this.catchUpTo) this.caughtUp(now);
    }
  }

  private caughtUp(now: number): void {
    this.catchUpTo = undefined;
    phase.caughtUp++;
    phase.resumes.push(now - this.openAt);
  }

  private tick(tick: ClusterTick, now: number): void {
    const last = this.lastSeq.get(tick.n) ?? 0;
    if (tick.s <= last) {
      phase.duplicates++;
      return;
    }
    if (last > 0 && tick.s > last + 1) phase.missed += tick.s - last - 1;
    this.lastSeq.set(tick.n, tick.s);
    phase.received++;
    phase.latencies.push(now - tick.t);
  }

  /** The connection dropped: the next node, at once. */
  private lost(): void {
    if (done || this.reconnecting) return;
    this.reconnecting = true;
    const socket = this.socket;
    if (socket instanceof WebSocket) {
      // Closed already (this runs on 'close'); an error after it must not go unhandled.
      socket.removeAllListeners();
      socket.on('error', () => {});
    } else if (socket) {
      socket.removeAllListeners();
      socket.close();
    }
    if (this.ready) phase.reconnected++;
    // For socket.io, caught up means the first publication after the reconnect.
    this.catchUpTo = this.catchUpTo ?? (arm === 'socket.io' ? 0 : undefined);
    this.node = (this.node + 1) % URLS.length;
    setImmediate(() => {
      this.reconnecting = false;
      this.connect();
    });
  }

  /** Whether it has received, from each node, the last publication to its room. */
  drained(last: ReadonlyArray<readonly number[] | null>): boolean {
    return last.every((rooms, node) => {
      const wanted = rooms?.[this.room] ?? 0;
      return wanted === 0 || (this.lastSeq.get(node) ?? 0) >= wanted;
    });
  }
}

async function main(): Promise<void> {
  let ready = 0;
  let allReady!: () => void;
  const connected = new Promise<void>((resolve) => (allReady = resolve));
  const subscribers = Array.from(
    { length: SUBSCRIBERS },
    (_, index) => new Subscriber(index, () => ++ready === SUBSCRIBERS && allReady()),
  );
  // A few hundred at a time, as a fleet of browsers would not all come in the same millisecond.
  for (let start = 0; start < SUBSCRIBERS; start += 200) {
    for (const subscriber of subscribers.slice(start, start + 200)) subscriber.connect();
    await new Promise((resolve) => setImmediate(resolve));
  }
  await connected;
  await toParent({ type: 'connected' });

  process.on('message', (raw) => {
    const message = raw as IpcMessage;
    if (message.type === 'phase') {
      phase = new Phase();
    } else if (message.type === 'drain') {
      const last = message.last as Array<number[] | null>;
      const started = Date.now();
      const check = () => {
        const timedOut = Date.now() - started > DRAIN_TIMEOUT_MS;
        const caughtUp = subscribers.every((s) => s.catchUpTo === undefined);
        if (!timedOut && !(caughtUp && subscribers.every((s) => s.drained(last)))) {
          setTimeout(check, 20);
          return;
        }
        const undrained = subscribers.filter(
          (s) => s.catchUpTo !== undefined || !s.drained(last),
        ).length;
        const latencies = phase.latencies.sorted();
        const resumes = phase.resumes.sorted();
        const report: ClientPhase = {
          type: 'drained',
          received: phase.received,
          p50: percentileSorted(latencies, 50),
          p99: percentileSorted(latencies, 99),
          missed: phase.missed,
          duplicates: phase.duplicates,
          reconnected: phase.reconnected,
          caughtUp: phase.caughtUp,
          resumeP50: percentileSorted(resumes, 50),
          resumeP99: percentileSorted(resumes, 99),
          notRecovered: phase.notRecovered,
          timedOut,
          undrained,
        };
        void toParent(report);
      };
      check();
    } else if (message.type === 'exit') {
      done = true;
      process.exit(0);
    }
  });
}

main().catch((error: unknown) => {
  console.error(`cluster client (${arm}):`, error);
  process.exit(1);
});
