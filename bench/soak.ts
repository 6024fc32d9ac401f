/**
 * Slow-client soak: a client stops reading for SOAK_SECONDS while the server produces 5,000
 * messages a second of about 1 KiB each. Two arms, each with its server in a fresh child process
 * and its client in another: WsOutbox with its defaults, and an unbounded sender that calls
 * `ws.send(JSON.stringify(m))` for every message.
 *
 *   npm run soak                      # 30 s per arm
 *   SOAK_SECONDS=5 npm run soak
 *
 * Environment: SOAK_SECONDS (30), SOAK_RATE (5000 msgs/s), SOAK_ARMS (outbox,unbounded).
 *
 * Reports, per arm, the server's memory (V8 heap used + external, after a forced GC) before and
 * at the end of the pause, `bufferedAmount` then, the outbox's counts, and whether the client,
 * once resumed, received exactly the messages the server kept, in order. Exits non-zero when the
 * outbox's growth exceeds 16 MiB or its delivery check fails.
 */
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { startChild } from './lib/child.js';
import type { Child } from './lib/child.js';
import type { SoakClientResult, SoakPauseEnd, SoakResult } from './lib/soakMessages.js';
import { envInt, fmtInt, fmtMiB, MiB } from './lib/stats.js';

const SECONDS = envInt('SOAK_SECONDS', 30);
const RATE = envInt('SOAK_RATE', 5_000);
const ARMS = (process.env.SOAK_ARMS ?? 'outbox,unbounded').split(',');
for (const arm of ARMS) {
  if (arm !== 'outbox' && arm !== 'unbounded') throw new Error(`unknown arm ${arm} in SOAK_ARMS`);
}
const GROWTH_LIMIT = 16 * MiB;

interface ArmReport {
  arm: string;
  pause: SoakPauseEnd;
  result: SoakResult;
  client: SoakClientResult;
}

async function runArm(arm: string): Promise<ArmReport> {
  const children: Child[] = [];
  try {
    const server = startChild(`soak server(${arm})`, join(__dirname, 'lib', 'soakServer.ts'), [
      arm,
      String(SECONDS),
      String(RATE),
    ]);
    children.push(server);
    const { port } = await server.next<{ type: 'listening'; port: number }>('listening', 60_000);
    const client = startChild(`soak client(${arm})`, join(__dirname, 'lib', 'soakClient.ts'), [
      `ws://127.0.0.1:${port}`,
    ]);
    children.push(client);
    const pause = await server.next<SoakPauseEnd>('pause-end', SECONDS * 1000 + 120_000);
    client.send({ type: 'resume' });
    const result = await server.next<SoakResult>('result', 300_000);
    const received = await client.next<SoakClientResult>('received', 300_000);
    await Promise.all(children.map((child) => child.stop()));
    return { arm, pause, result, client: received };
  } catch (error) {
    await Promise.all(children.map((child) => child.kill()));
    throw error;
  }
}

function growth(r: ArmReport): number {
  const { before, after } = r.pause;
  return after.heapUsed + after.external - (before.heapUsed + before.external);
}

async function main(): Promise<void> {
  const load = loadavg();
  const reports: ArmReport[] = [];
  for (const arm of ARMS) {
    process.stderr.write(`soak ${arm}: ${SECONDS} s paused at ${fmtInt(RATE)} msgs/s…\n`);
    reports.push(await runArm(arm));
  }
  const cpu = cpus();
  console.log(
    `\nClient paused ${SECONDS} s; server producing ${fmtInt(RATE)} msgs/s of ~1 KiB ` +
      `(${fmtInt(SECONDS * RATE)} messages). ${cpu.length} × ${cpu[0]?.model.trim() ?? 'CPU'}, ` +
      `node ${process.version}, load average at start ${load.map((l) => l.toFixed(2)).join(' ')}.\n`,
  );
  console.log(
    '| sender | heap+external before (MiB) | after (MiB) | growth (MiB) | of which heap / external ' +
      '| peak unsettled growth (MiB) | peak RSS (MiB) | bufferedAmount at end of pause ' +
      '| dropped | client received | in order, exactly the kept messages |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  let failed = false;
  for (const r of reports) {
    const { before, after } = r.pause;
    const exact =
      r.client.received === r.result.kept &&
      r.client.receivedHash === r.result.keptHash &&
      r.client.outOfOrder === 0 &&
      (r.result.finalStats === undefined ||
        (r.result.finalStats.delivered === r.result.kept &&
          r.result.finalStats.accepted -
            r.result.finalStats.dropped -
            r.result.finalStats.failed ===
            r.client.received));
    const dropped = r.result.finalStats ? fmtInt(r.result.finalStats.dropped) : 'n/a';
    console.log(
      [
        '',
        r.arm === 'outbox' ? 'WsOutbox, defaults' : 'unbounded `ws.send(JSON.stringify(m))`',
        fmtMiB(before.heapUsed + before.external),
        fmtMiB(after.heapUsed + after.external),
        fmtMiB(growth(r)),
        `${fmtMiB(after.heapUsed - before.heapUsed)} / ${fmtMiB(after.external - before.external)}`,
        fmtMiB(r.pause.peakUnsettled - (before.heapUsed + before.external)),
        fmtMiB(r.pause.rssPeak),
        fmtInt(r.pause.bufferedAmount),
        dropped,
        fmtInt(r.client.received),
        exact ? 'yes' : `NO (kept ${fmtInt(r.result.kept)}, out of order ${r.client.outOfOrder})`,
        '',
      ]
        .join(' | ')
        .trim(),
    );
    if (r.arm === 'outbox') failed ||= growth(r) > GROWTH_LIMIT || !exact;
  }
  const outbox = reports.find((r) => r.arm === 'outbox');
  if (outbox) {
    const s = outbox.result.finalStats!;
    const p = outbox.pause.statsAtPauseEnd!;
    console.log(
      `\nWsOutbox at the end of the pause: accepted ${fmtInt(p.accepted)}, delivered ` +
        `${fmtInt(p.delivered)}, dropped ${fmtInt(p.dropped)}, pending ${fmtInt(p.pending)}. ` +
        `After resume and stop(): accepted ${fmtInt(s.accepted)}, delivered ${fmtInt(s.delivered)}, ` +
        `dropped ${fmtInt(s.dropped)}, failed ${fmtInt(s.failed)} (send() returned false ` +
        `${fmtInt(outbox.result.refused)} times); the client received ${fmtInt(outbox.client.received)} ` +
        `in ${fmtInt(outbox.client.frames)} frames. Growth ${fmtMiB(growth(outbox))} MiB, limit 16 MiB: ` +
        `${growth(outbox) <= GROWTH_LIMIT ? 'met' : 'MISSED'}.`,
    );
  }
  if (failed) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
