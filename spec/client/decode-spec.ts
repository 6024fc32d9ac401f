import { gzipSync } from 'node:zlib';
import { firstValueFrom, take, toArray } from 'rxjs';
import {
  COMPRESSED_ENVELOPE_PREFIX,
  decodeFrame,
  OutboxClient,
  parseNdjson,
} from '../../src/client/index.js';
import { fakeWebSocket } from './fakeSocket.js';

const TEXT = '{"type":"a","n":1}\n{"type":"b","s":"é ✓ 😀"}';

function envelope(text: string): string {
  return `${COMPRESSED_ENVELOPE_PREFIX}${gzipSync(text).toString('base64')}"}`;
}

function arrayBufferOf(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

describe('decodeFrame', () => {
  it('should return a plain text frame as it is, synchronously', () => {
    expect(decodeFrame(TEXT)).toBe(TEXT);
  });

  it('should gunzip a binary frame in each shape a socket hands over', async () => {
    const gz = gzipSync(TEXT);
    // A view with an offset into a larger buffer, as ws's pooled Buffers are.
    const padded = new Uint8Array(gz.length + 7);
    padded.set(gz, 5);
    const shapes: unknown[] = [
      gz,
      arrayBufferOf(gz),
      padded.subarray(5, 5 + gz.length),
      [gz.subarray(0, 10), gz.subarray(10)],
      new Blob([gz]),
    ];
    for (const shape of shapes) {
      await expect(decodeFrame(shape as ArrayBuffer)).resolves.toBe(TEXT);
    }
  });

  it('should unwrap and gunzip a base64 envelope', async () => {
    const frame = envelope(TEXT);
    expect(frame.startsWith(COMPRESSED_ENVELOPE_PREFIX)).toBe(true);
    await expect(decodeFrame(frame)).resolves.toBe(TEXT);
  });

  it('should leave text that only looks like an envelope as it is', () => {
    const lookalike = `${COMPRESSED_ENVELOPE_PREFIX}not base64 gzip"}`;
    expect(decodeFrame(lookalike)).toBe(lookalike);
  });

  it('should reject bytes that are not gzip', async () => {
    await expect(decodeFrame(new TextEncoder().encode('plain'))).rejects.toThrow();
  });
});

describe('parseNdjson', () => {
  it('should parse every line, skip empty ones and report the invalid one only', () => {
    const invalid: string[] = [];
    const values = parseNdjson('{"a":1}\n\n{oops\n[2]\n', (line) => invalid.push(line));
    expect(values).toEqual([{ a: 1 }, [2]]);
    expect(invalid).toEqual(['{oops']);
  });
});

describe('OutboxClient.messages$ decoding', () => {
  function client() {
    const fake = fakeWebSocket();
    const errors: unknown[] = [];
    const c = new OutboxClient('ws://test', {
      WebSocket: fake.WebSocket,
      onDecodeError: (error) => errors.push(error),
    });
    const socket = fake.sockets[0];
    socket.open();
    return { client: c, socket, errors };
  }

  it('should ask for ArrayBuffers', () => {
    expect(client().socket.binaryType).toBe('arraybuffer');
  });

  it('should keep frame order when a text frame arrives behind gzip frames', async () => {
    const { client: c, socket } = client();
    const seen: unknown[] = [];
    c.messages$.subscribe((message) => seen.push(message));
    const all = firstValueFrom(c.messages$.pipe(take(5), toArray()));

    socket.receive(new Blob([gzipSync('{"n":1}\n{"n":2}')])); // slowest: Blob, then gunzip
    socket.receive(arrayBufferOf(gzipSync('{"n":3}')));
    socket.receive(envelope('{"n":4}'));
    socket.receiveJson({ n: 5 });
    // The text frame could be read at once; it must wait for the three before it.
    expect(seen).toEqual([]);

    expect(await all).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }, { n: 5 }]);
    c.close();
  });

  it('should pass text frames with nothing ahead of them synchronously', () => {
    const { client: c, socket } = client();
    const seen: unknown[] = [];
    c.messages$.subscribe((message) => seen.push(message));
    socket.receive('{"n":1}\n{"n":2}');
    expect(seen).toEqual([{ n: 1 }, { n: 2 }]);
    c.close();
  });

  it('should skip a frame that fails to gunzip, report it, and go on', async () => {
    const { client: c, socket, errors } = client();
    const next = firstValueFrom(c.messages$.pipe(take(1), toArray()));
    socket.receive(new TextEncoder().encode('not gzip'));
    socket.receiveJson({ n: 1 });
    expect(await next).toEqual([{ n: 1 }]);
    expect(errors).toHaveLength(1);
    c.close();
  });
});
