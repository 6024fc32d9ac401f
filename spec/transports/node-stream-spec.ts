import { once } from 'node:events';
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';
import { Writable } from 'node:stream';
import { Subject } from 'rxjs';
import { parseNdjson } from '../../operators/index.js';
import { pipeToWritable } from '../../examples/node-stream.js';
import { nextTurn, until } from '../helpers/until.js';

interface Message {
  i: number;
}

/** A Writable whose writes complete only when the test says so. */
class ControlledWritable extends Writable {
  readonly chunks: string[] = [];
  private readonly callbacks: Array<(error?: Error | null) => void> = [];

  constructor(highWaterMark: number) {
    super({ highWaterMark, decodeStrings: false });
  }

  override _write(chunk: string, _encoding: string, callback: (error?: Error | null) => void) {
    this.chunks.push(chunk);
    this.callbacks.push(callback);
    this.emit('chunk');
  }

  get waiting(): number {
    return this.callbacks.length;
  }

  /** Completes the oldest pending write. */
  completeOne(): void {
    const callback = this.callbacks.shift();
    if (!callback) throw new Error('no write is pending');
    callback();
  }

  get messages(): Message[] {
    return parseNdjson(this.chunks.join('')) as Message[];
  }
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, k) => ({ i: from + k }));

describe('examples/node-stream: pipeToWritable', () => {
  it('follows the stream: holds while a write is over the high-water mark, releases on drain', async () => {
    const writable = new ControlledWritable(16);
    const source = new Subject<Message>();
    const held: number[] = [];
    const readiness: boolean[] = [];
    const outbox = pipeToWritable(source, writable, {
      windowMs: 1,
      maxBatch: 4,
      onSize: (size) => held.push(size),
    });
    outbox.ready.subscribe((ready) => readiness.push(ready));

    // Four messages make one batch (maxBatch), one write of 32 bytes, over the 16-byte high-water mark: not ready.
    for (const message of range(0, 20)) source.next(message);
    expect(writable.chunks).toHaveLength(1);
    expect(writable.chunks[0]).toBe('{"i":0}\n{"i":1}\n{"i":2}\n{"i":3}\n');
    expect(readiness).toEqual([true, false]);
    // The other sixteen wait in the buffer, not in the stream's own queue.
    expect(held.at(-1)).toBe(16);
    expect(writable.writableLength).toBe(writable.chunks[0].length);

    // Each completed write drains the stream, which lets the buffer release the next batch.
    while (writable.messages.length < 20) {
      const before = writable.chunks.length;
      writable.completeOne();
      await until(() => writable.chunks.length > before, writable, 'chunk', {
        description: 'the next batch after drain',
      });
      expect(writable.waiting).toBe(1);
    }
    expect(writable.messages).toEqual(range(0, 20));
    expect(readiness.filter((ready) => !ready)).toHaveLength(5);
    expect(held.at(-1)).toBe(0);

    // Completing the messages ends the stream once the last write has been flushed.
    source.complete();
    let done = false;
    void outbox.done.then(() => (done = true));
    expect(writable.writableEnded).toBe(true);
    await nextTurn();
    expect(done).toBe(false);
    expect(writable.writableFinished).toBe(false);
    writable.completeOne();
    await outbox.done;
    expect(writable.writableFinished).toBe(true);
  });

  it('destroys the stream with the error of the messages', async () => {
    const writable = new ControlledWritable(1024);
    const source = new Subject<Message>();
    const outbox = pipeToWritable(source, writable, { windowMs: 1 });
    const failure = new Error('producer failed');
    source.error(failure);
    await expect(outbox.done).rejects.toBe(failure);
    expect(writable.destroyed).toBe(true);
    expect(writable.errored).toBe(failure);
  });

  it('stops taking messages when the stream closes first', async () => {
    const writable = new ControlledWritable(1024);
    const source = new Subject<Message>();
    const outbox = pipeToWritable(source, writable, { windowMs: 1 });
    expect(source.observed).toBe(true);
    writable.destroy();
    await expect(outbox.done).rejects.toThrow(/closed before the messages ended/);
    expect(source.observed).toBe(false);
  });

  describe('over a real TCP socket', () => {
    let server: Server;
    let client: Socket | undefined;

    afterEach(async () => {
      client?.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('sends NDJSON lines that parseNdjson reads back, in order', async () => {
      const source = new Subject<Message>();
      const sent = range(0, 5000);
      let dropped = 0;
      server = createServer((socket) => {
        // Room for the whole synchronous burst: this test is about framing, not overflow.
        pipeToWritable(source, socket, {
          windowMs: 2,
          capacity: sent.length,
          onDrop: () => dropped++,
        });
        for (const message of sent) source.next(message);
        source.complete();
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const { port } = server.address() as { port: number };

      client = connect(port, '127.0.0.1');
      client.setEncoding('utf8');
      let text = '';
      client.on('data', (chunk: string) => (text += chunk));
      await once(client, 'end');

      expect(text.endsWith('\n')).toBe(true);
      expect(parseNdjson(text)).toEqual(sent);
      expect(dropped).toBe(0);
    });
  });
});
