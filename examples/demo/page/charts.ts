/**
 * The page's live charts: uPlot (bundled with the page, no CDN), fed by the connection's figures
 * that the server publishes on its stats topic.
 */
import uPlot from 'uplot';
import type { ConnectionFigures } from '../connectionStats.js';

export type Figures = ConnectionFigures;

/** Seconds of history the charts keep. */
const POINTS = 120;

/** Where each chart goes. */
export interface ChartHosts {
  readonly rate: HTMLElement;
  readonly queue: HTMLElement;
  readonly latency: HTMLElement;
  readonly bytes: HTMLElement;
}

/** The charts: `add` one interval's figures. */
export interface Charts {
  add(figures: Figures): void;
}

/** 1200 → 1.2k, 3500000 → 3.5M: axis labels that fit. */
function compact(n: number | null): string {
  if (n === null) return '';
  const abs = Math.abs(n);
  if (abs >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
  if (abs >= 1e3) return `${+(n / 1e3).toFixed(1)}k`;
  return String(+n.toFixed(2));
}

const COLORS = { in: '#2563eb', out: '#16a34a', warn: '#d97706', bad: '#dc2626' };

/**
 * Builds the four charts, or returns undefined where there is nothing to draw on (no real DOM:
 * the specs run the page script on stand-in elements).
 */
export function createCharts(hosts: ChartHosts): Charts | undefined {
  if (typeof window === 'undefined' || typeof HTMLCanvasElement === 'undefined') return undefined;
  const times: number[] = [];
  const columns = {
    messagesIn: [] as Array<number | null>,
    framesOut: [] as Array<number | null>,
    queue: [] as number[],
    drops: [] as number[],
    latency: [] as Array<number | null>,
    textBytes: [] as number[],
    wireBytes: [] as number[],
  };
  const width = (host: HTMLElement) =>
    Math.max(240, Math.floor(host.getBoundingClientRect().width));
  const base = (
    host: HTMLElement,
    series: uPlot.Series[],
    scales?: uPlot.Scales,
  ): uPlot.Options => ({
    width: width(host),
    height: 150,
    legend: { live: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true }, ...scales },
    axes: [
      { stroke: '#667085', grid: { stroke: '#eef0f4' }, values: '{mm}:{ss}' },
      {
        stroke: '#667085',
        grid: { stroke: '#eef0f4' },
        size: 48,
        values: (_chart, ticks) => ticks.map(compact),
      },
    ],
    series: [{}, ...series],
  });
  const line = (label: string, stroke: string, fill?: string): uPlot.Series => ({
    label,
    stroke,
    width: 2,
    ...(fill && { fill }),
    spanGaps: false,
    points: { show: false },
  });
  const rate = new uPlot(
    base(hosts.rate, [line('msgs/s in', COLORS.in), line('frames/s out', COLORS.out)], {
      y: { distr: 3, log: 10 },
    }),
    [[], [], []],
    hosts.rate,
  );
  const queue = new uPlot(
    base(hosts.queue, [
      line('queue', COLORS.warn, 'rgba(217,119,6,.12)'),
      line('drops/s', COLORS.bad),
    ]),
    [[], [], []],
    hosts.queue,
  );
  const latency = new uPlot(
    base(hosts.latency, [line('p95 ms', COLORS.in, 'rgba(37,99,235,.10)')]),
    [[], []],
    hosts.latency,
  );
  const bytes = new uPlot(
    base(hosts.bytes, [line('before gzip', COLORS.warn), line('on the wire', COLORS.out)]),
    [[], [], []],
    hosts.bytes,
  );
  const all = [rate, queue, latency, bytes];
  const hostList = [hosts.rate, hosts.queue, hosts.latency, hosts.bytes];
  window.addEventListener('resize', () => {
    all.forEach((chart, i) => chart.setSize({ width: width(hostList[i]), height: 150 }));
  });

  // A log scale has no 0: an idle second shows as a gap.
  const positive = (n: number) => (n > 0 ? n : null);
  return {
    add(figures) {
      times.push(figures.t / 1000);
      columns.messagesIn.push(positive(figures.messagesIn));
      columns.framesOut.push(positive(figures.framesOut));
      columns.queue.push(figures.queue);
      columns.drops.push(figures.drops);
      columns.latency.push(figures.latencyP95Ms);
      columns.textBytes.push(figures.textBytes);
      columns.wireBytes.push(figures.wireBytes);
      if (times.length > POINTS) {
        times.shift();
        for (const column of Object.values(columns)) column.shift();
      }
      rate.setData([times, columns.messagesIn, columns.framesOut]);
      queue.setData([times, columns.queue, columns.drops]);
      latency.setData([times, columns.latency]);
      bytes.setData([times, columns.textBytes, columns.wireBytes]);
    },
  };
}
