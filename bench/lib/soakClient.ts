/**
 * Client child of `bench/soak.ts`: connects, stops reading at once (`ws.pause()`), tells the
 * server, and resumes only when the parent says so; then decodes everything and reports what
 * arrived, in order, to the parent.
 *
 *   argv: <url>
 */
import { gunzipSync } from 'node:zlib';
import { WebSocket } from 'ws';
import { fromParent, toParent } from './child.js';
import { SeqHash } from './soakMessages.js';
import type { SoakClientResult, SoakMessage } from './soakMessages.js';

const [url] = process.argv.slice(2);
const seen = new SeqHash();
let lastSeq = -1;
let outOfOrder = 0;
let frames = 0;
let bytes = 0;

const ws = new WebSocket(url, { perMessageDeflate: false });
ws.on('open', () => {
  ws.pause();
  ws.send('#paused');
  void fromParent('resume').then(() => ws.resume());
});
ws.on('message', (data: Buffer, isBinary: boolean) => {
  if (!isBinary && data[0] === 0x23 /* '#' */ && data.toString() === '#end') {
    const result: SoakClientResult = {
      type: 'received',
      received: seen.count,
      receivedHash: seen.value,
      outOfOrder,
      frames,
      bytes,
    };
    void toParent(result).then(() => ws.close());
    return;
  }
  frames++;
  bytes += data.length;
  const text = isBinary ? gunzipSync(data).toString('utf8') : data.toString('utf8');
  for (const line of text.split('\n')) {
    const { seq } = JSON.parse(line) as SoakMessage;
    if (seq <= lastSeq) outOfOrder++;
    lastSeq = seq;
    seen.add(seq);
  }
});
ws.on('close', () => process.exit(0));
ws.on('error', (error) => {
  console.error('soak client:', error);
  process.exit(1);
});
