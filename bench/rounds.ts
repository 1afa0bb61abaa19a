/**
 * Interleaved benchmark rounds. On a shared machine the load changes while a bench runs, so a
 * scenario measured once, after another, can rank wrongly. Here every round runs every scenario
 * once (A B C … A B C …) and a ratio is taken inside each round, against a reference measured
 * in the same round, seconds apart; the median ratio over the rounds, with its spread, is what
 * a bench reports.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface Scenario {
  name: string;
  /** Untimed: brings the database (or files) to the scenario's starting state. */
  prepare?: () => Promise<void>;
  /**
   * Timed. Returns an optional note for the table (counts, say), or the seconds it measured
   * itself (a child process timing its own work, without its start-up).
   */
  run: () => Promise<string | void | { seconds: number; note?: string }>;
}

export interface RoundResults {
  /** Seconds per scenario name, one entry per round, in round order. */
  seconds: Map<string, number[]>;
  notes: Map<string, string>;
}

export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

export interface MoreRounds {
  /** Rounds at most (default: `rounds`, i.e. no more). */
  maxRounds: number;
  /** After each round from `rounds` on: true when the results are good enough to stop. */
  enough: (results: RoundResults) => boolean;
}

/**
 * Runs `rounds` rounds of every scenario in order, printing each timing as it comes; with `more`,
 * goes on round by round, up to `more.maxRounds`, until `more.enough` says the results suffice.
 */
export async function runRounds(scenarios: readonly Scenario[], rounds: number, rows: number, more?: MoreRounds): Promise<RoundResults> {
  const seconds = new Map<string, number[]>(scenarios.map((s) => [s.name, []]));
  const notes = new Map<string, string>();
  const last = Math.max(rounds, more?.maxRounds ?? rounds);
  for (let round = 1; round <= last; round++) {
    if (round > rounds && more!.enough({ seconds, notes })) break;
    console.log(`round ${round} of ${round <= rounds ? rounds : `${rounds}+, at most ${last}`} (${loadLabel()})`);
    for (const scenario of scenarios) {
      await scenario.prepare?.();
      const start = performance.now();
      const outcome = await scenario.run();
      const own = typeof outcome === 'object' ? outcome : { seconds: (performance.now() - start) / 1000, note: outcome };
      const elapsed = own.seconds;
      seconds.get(scenario.name)!.push(elapsed);
      if (own.note) notes.set(scenario.name, own.note);
      console.log(`  ${scenario.name}: ${Math.round(rows / elapsed)} rows/s`);
    }
  }
  return { seconds, notes };
}

export interface Ratio {
  median: number;
  min: number;
  max: number;
}

/** Per round, reference seconds over scenario seconds (> 1: the scenario is faster). */
export function ratioOf(results: RoundResults, scenario: string, reference: string): Ratio {
  const s = results.seconds.get(scenario)!;
  const r = results.seconds.get(reference)!;
  const perRound = s.map((seconds, i) => r[i]! / seconds);
  return { median: median(perRound), min: Math.min(...perRound), max: Math.max(...perRound) };
}

export const formatRatio = (ratio: Ratio): string => `${ratio.median.toFixed(2)} (${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)})`;

/** Per-round ratios, reference seconds over scenario seconds, in round order. */
export function ratiosPerRound(results: RoundResults, scenario: string, reference: string): number[] {
  const r = results.seconds.get(reference)!;
  return results.seconds.get(scenario)!.map((seconds, i) => r[i]! / seconds);
}

/**
 * A distribution-free interval for the median of `values`: the order statistics x(k) and
 * x(n+1-k) with the largest k for which the median lies between them with at least `confidence`
 * (binomial, p = ½). With few values that is the whole range (for n ≤ 7 at 90%: min and max);
 * from 8 values on it leaves out the outliers a loaded machine produces, one at each end, then more.
 */
export function medianInterval(values: readonly number[], confidence = 0.9): { low: number; high: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  // [x(k), x(n+1-k)] holds the median with probability 1 − 2·P(B ≤ k − 1), B ~ Binomial(n, ½).
  let k = 1;
  let below = 0;
  for (let j = 0; j + 1 <= n - j; j++) {
    below += binomial(n, j) / 2 ** n;
    if (2 * below > 1 - confidence) break;
    k = j + 1;
  }
  return { low: sorted[k - 1]!, high: sorted[n - k]! };
}

function binomial(n: number, k: number): number {
  let c = 1;
  for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
  return c;
}

/**
 * True when the median's interval (medianInterval) of the per-round ratios lies within
 * ±`tolerance` of the median: the median would not move by more than that with more rounds.
 */
export function medianSettled(ratios: readonly number[], tolerance = 0.15): boolean {
  if (ratios.length < 3) return false;
  const m = median(ratios);
  const { low, high } = medianInterval(ratios);
  return low >= m * (1 - tolerance) && high <= m * (1 + tolerance);
}

/** `0.91 (median interval 0.85–0.97, range 0.80–1.02, 5 rounds)`. */
export function formatSettled(ratios: readonly number[]): string {
  const { low, high } = medianInterval(ratios);
  return `${median(ratios).toFixed(2)} (median interval ${low.toFixed(2)}–${high.toFixed(2)}, range ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}, ${ratios.length} rounds${medianSettled(ratios) ? '' : ', NOT within ±15%'})`;
}

/**
 * Adds a scenario made of others: per round, the fastest of `of` (a limit is the best any of the
 * plain references did in that round, not one chosen in advance).
 */
export function addFastest(results: RoundResults, name: string, of: readonly string[]): void {
  const series = of.map((s) => results.seconds.get(s)!);
  results.seconds.set(name, series[0]!.map((_, i) => Math.min(...series.map((s) => s[i]!))));
  const wins = of.map((s, k) => [s, series[0]!.filter((_, i) => series[k]![i] === results.seconds.get(name)![i]).length] as const);
  results.notes.set(name, `fastest per round: ${wins.map(([s, w]) => `${w}× ${s.replace(/ \(reference\)$/, '')}`).join(', ')}`);
}

/** The machine's load for a label: `load 3.2 (1 min), 2 CPUs`. Benches taken on a shared machine must say it. */
export function loadLabel(): string {
  return `load ${os.loadavg()[0]!.toFixed(1)} (1 min), ${os.cpus().length} CPUs`;
}

/** The markdown table: median rows/s, and the median ratio (with its range) to `reference`. */
export function printTable(results: RoundResults, rows: number, reference: string, label: string): void {
  console.log(`\n| scenario | median rows/s | × ${label}, median (range over rounds) | note |\n| --- | ---: | ---: | --- |`);
  for (const [name, seconds] of results.seconds) {
    const ratio = formatRatio(ratioOf(results, name, reference));
    console.log(`| ${name} | ${Math.round(rows / median(seconds))} | ${ratio} | ${results.notes.get(name) ?? ''} |`);
  }
}

/** A size such as `200MB` or `1GB` (binary units) in bytes. */
export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i.exec(text.trim());
  if (!match) throw new Error(`invalid size ${JSON.stringify(text)}: use e.g. 200MB or 1GB`);
  const unit = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[(match[2] ?? 'b').toLowerCase() as 'b'];
  return Math.round(Number(match[1]) * unit);
}

/** The value after `--name` on the command line, if any. */
export function argOf(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1] : undefined;
}

/** Peak resident set of a live process, in MB (Linux /proc VmHWM); null when unknown. */
export function peakRssMbOf(pid: number | 'self'): number | null {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}
