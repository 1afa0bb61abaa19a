/**
 * Interleaved benchmark rounds. On a shared machine the load changes while a bench runs, so a
 * scenario measured once, after another, can rank wrongly. Here every round runs every scenario
 * once (A B C … A B C …) and a ratio is taken inside each round, against a reference measured
 * in the same round, seconds apart; the median ratio over the rounds, with its spread, is what
 * a bench reports.
 */
import { readFileSync } from 'node:fs';

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

/** Runs `rounds` rounds of every scenario in order, printing each timing as it comes. */
export async function runRounds(scenarios: readonly Scenario[], rounds: number, rows: number): Promise<RoundResults> {
  const seconds = new Map<string, number[]>(scenarios.map((s) => [s.name, []]));
  const notes = new Map<string, string>();
  for (let round = 1; round <= rounds; round++) {
    console.log(`round ${round} of ${rounds}`);
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
