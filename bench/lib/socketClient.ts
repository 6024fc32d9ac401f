/**
 * Client child of `bench/socket.ts`: connects to one arm's server, decodes every frame (NDJSON
 * split, gunzip for binary frames, or socket.io events), checks order, and reports each phase
 * to the parent: messages, frames, payload bytes, and enqueue-to-receive latency.
 *
 *   argv: <ws|socket.io> <url>
 *
 * It runs in its own process so that its decoding costs the server nothing; its own CPU use is
 * reported too, so that a client-bound arm shows up as one.
 */
import { gunzipSync } from 'node:zlib';
import { io } from 'socket.io-client';
import { WebSocket } from 'ws';
import { toParent } from './child.js';
import { CONTROL } from './protocol.js';
import type { ClientResult, Tick } from './protocol.js';
import { cpuSecondsSince, epochMs, percentileSorted } from './stats.js';

const [kind, url] = process.argv.slice(2);

class Phase {
  received = 0;
  outOfOrder = 0;
  frames = 0;
  bytes = 0;
  lastReceive = 0;
  private lastSeq = -1;
  private latencies = new Float64Array(1 << 16);
  readonly cpuStart = process.cpuUsage();

  frame(bytes: number): void {
    this.frames++;
    this.bytes += bytes;
  }

  message(tick: Tick, receivedAt: number): void {
    if (tick.seq <= this.lastSeq) this.outOfOrder++;
    this.lastSeq = tick.seq;
    if (this.received === this.latencies.length) {
      const grown = new Float64Array(this.latencies.length * 2);
      grown.set(this.latencies);
      this.latencies = grown;
    }
    this.latencies[this.received++] = receivedAt - tick.ts;
    this.lastReceive = receivedAt;
  }

  report(index: number): ClientResult {
    const sorted = this.latencies.subarray(0, this.received).sort();
    return {
      type: 'phase',
      phase: index,
      received: this.received,
      outOfOrder: this.outOfOrder,
      frames: this.frames,
      bytes: this.bytes,
      lastReceive: this.lastReceive,
      p50: percentileSorted(sorted, 50),
      p99: percentileSorted(sorted, 99),
      max: sorted.length > 0 ? sorted[sorted.length - 1] : NaN,
      cpuSeconds: cpuSecondsSince(this.cpuStart),
    };
  }
}

let phase = new Phase();
let phaseIndex = 0;

/** Ends the phase: reports it, then asks the server for the next one. */
async function phaseEnd(sendGo: () => void): Promise<void> {
  const done = phase;
  phase = new Phase();
  await toParent(done.report(phaseIndex++));
  sendGo();
}

function decodeText(text: string, receivedAt: number): void {
  let start = 0;
  for (;;) {
    const end = text.indexOf('\n', start);
    const line = end < 0 ? text.slice(start) : text.slice(start, end);
    phase.message(JSON.parse(line) as Tick, receivedAt);
    if (end < 0) return;
    start = end + 1;
  }
}

function runWs(): void {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  ws.on('open', () => ws.send(CONTROL.go));
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const receivedAt = epochMs();
    if (!isBinary && data[0] === 0x23 /* '#' */) {
      if (data.toString() === CONTROL.phaseEnd) void phaseEnd(() => ws.send(CONTROL.go));
      return;
    }
    phase.frame(data.length);
    // Synchronous gunzip keeps frames in order without a queue; it only costs the client.
    decodeText(isBinary ? gunzipSync(data).toString('utf8') : data.toString('utf8'), receivedAt);
  });
  ws.on('close', () => process.exit(0));
  ws.on('error', (error) => {
    console.error('client:', error);
    process.exit(1);
  });
}

function runSocketIo(): void {
  const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
  socket.io.on('open', () => {
    // Count engine.io packets (one WebSocket frame each on this transport): `4` + the payload.
    socket.io.engine.on('packet', (packet) => {
      // Data only: the end-of-phase control event ('2["#phase-end"]') is not a tick.
      if (
        packet.type === 'message' &&
        typeof packet.data === 'string' &&
        !packet.data.startsWith('2["#')
      ) {
        phase.frame(1 + Buffer.byteLength(packet.data));
      }
    });
  });
  socket.on('connect', () => void socket.emit(CONTROL.go));
  socket.on('tick', (tick: Tick) => phase.message(tick, epochMs()));
  socket.on(CONTROL.phaseEnd, () => void phaseEnd(() => socket.emit(CONTROL.go)));
  socket.on('disconnect', () => process.exit(0));
  socket.on('connect_error', (error) => {
    console.error('client:', error);
    process.exit(1);
  });
}

if (kind === 'socket.io') runSocketIo();
else if (kind === 'ws') runWs();
else throw new Error(`unknown client kind ${kind}`);
