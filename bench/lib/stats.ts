/** Small statistics and formatting helpers shared by the benchmarks. */

/** Wall-clock milliseconds since the epoch, sub-millisecond; comparable across processes. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Nearest-rank percentile of values already sorted ascending (`p` in 0..100). */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** CPU seconds (user + system, all threads of this process) since `start`. */
export function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const { user, system } = process.cpuUsage(start);
  return (user + system) / 1e6;
}

/** Forces a full collection; the benchmarks run under `--expose-gc`. */
export function forceGc(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc (npm run bench:socket / npm run soak)');
  // Twice: the first pass can leave objects whose finalizers free more on the second.
  gc();
  gc();
}

export const MiB = 1024 * 1024;

export function fmtInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en') : String(n);
}

export function fmtMiB(bytes: number, digits = 1): string {
  return (bytes / MiB).toFixed(digits);
}

/** A benchmark's target: what it measures, the figure, what is wanted, and whether it is met. */
export type Target = [name: string, measured: number, wanted: string, met: boolean];

/** Prints the targets as a Markdown table; a figure not measured (NaN) is `n/a`, unjudged. */
export function printTargets(targets: readonly Target[]): void {
  console.log('\n| target | measured | wanted | |');
  console.log('| --- | ---: | ---: | --- |');
  for (const [name, value, wanted, met] of targets) {
    const measured = !Number.isNaN(value);
    const shown = !measured ? 'n/a' : Number.isInteger(value) ? fmtInt(value) : value.toFixed(2);
    console.log(`| ${name} | ${shown} | ${wanted} | ${!measured ? '' : met ? 'met' : 'MISSED'} |`);
  }
}

/** Reads a positive integer from the environment, with a default. */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** Tracks peak RSS: sampled on an interval, and `maxRSS` when the peak falls inside the run. */
export class RssPeak {
  private peak: number;
  private readonly maxRssAtStart = process.resourceUsage().maxRSS;
  private readonly timer: NodeJS.Timeout;
  readonly start: number;

  constructor(intervalMs = 10) {
    this.start = process.memoryUsage.rss();
    this.peak = this.start;
    this.timer = setInterval(() => this.sample(), intervalMs);
    // Never the reason the process stays up.
    this.timer.unref();
  }

  sample(): void {
    const rss = process.memoryUsage.rss();
    if (rss > this.peak) this.peak = rss;
  }

  /** Stops sampling; returns the peak RSS in bytes seen since construction. */
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    // maxRSS is the process's lifetime peak (KiB): only meaningful here if it rose during the run,
    // since the peak may otherwise date from start-up.
    const maxRss = process.resourceUsage().maxRSS;
    return maxRss > this.maxRssAtStart ? Math.max(this.peak, maxRss * 1024) : this.peak;
  }
}
