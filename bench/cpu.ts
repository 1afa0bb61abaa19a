/**
 * CPU seconds of the processes a bench runs, from Linux's /proc (user + system time), so a bench
 * can say what each part costs per million rows, not only how long the whole took on a machine
 * whose cores the parts share. Elsewhere (no /proc) every reading is null.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Clock ticks per second of /proc's times (USER_HZ: 100 on every Linux Node runs on). */
const TICKS = 100;

interface ProcStat {
  ppid: number;
  /** Own user + system seconds. */
  own: number;
  /** User + system seconds of its children it has waited for (those that exited). */
  children: number;
}

function statOf(pid: number | 'self'): ProcStat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), own: (Number(f[11]) + Number(f[12])) / TICKS, children: (Number(f[13]) + Number(f[14])) / TICKS };
  } catch {
    return null;
  }
}

/** This process's own CPU seconds (the emulator, when it runs in the bench's process). */
export const ownCpuSeconds = (): number => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
};

/** CPU seconds of this process's children that have exited and been reaped (a `landfall run` child, once it ended). */
export const exitedChildrenCpuSeconds = (): number | null => statOf('self')?.children ?? null;

/** The PostgreSQL server listening on `port` (its postmaster), found by its command line; null if none is a child of this machine's /proc. */
export function postmasterOnPort(port: number): number | null {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return null;
  }
  for (const pid of pids) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (!args[0]?.endsWith('/postgres')) continue;
      const at = args.indexOf('-p');
      if ((at >= 0 && args[at + 1] === String(port)) || args.includes(`--port=${port}`)) return Number(pid);
    } catch {
      // gone meanwhile
    }
  }
  return null;
}

/**
 * CPU seconds PostgreSQL has used so far: the postmaster's own, its exited backends' (it reaps
 * them), and those of its live children (backends, checkpointer, WAL writer, autovacuum). A
 * difference of two readings is what the server did in between.
 */
export function postgresCpuSeconds(postmaster: number | null): number | null {
  if (postmaster === null) return null;
  const root = statOf(postmaster);
  if (!root) return null;
  let total = root.own + root.children;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    const stat = statOf(Number(pid));
    if (stat?.ppid === postmaster) total += stat.own;
  }
  return total;
}

/** Where a V8 CPU profile's samples went, in seconds, by part of Landfall (see `splitProfile`). */
export type ProfileSplit = Record<'producer' | 'consumer' | 'start-up' | 'idle' | 'other', number>;

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

/** Which part a frame's script belongs to, if it says. */
function partOfUrl(url: string): keyof ProfileSplit | null {
  if (/\/shared\/(producer|core\/read)\/|producer-handler|\/shared\/core\/(partition|chunker|canonical-key)\b|\/shared\/aws\/(producer-deps|sqs-batch-sender|sqs-continuation-sender)/.test(url)) return 'producer';
  if (/\/shared\/(consumer|postgres)\/|consumer-handler|consumer-runtime|replay-handler|\/node_modules\/postgres\//.test(url)) return 'consumer';
  if (/\/node_modules\/(tsx|esbuild)\/|node:internal\/modules\//.test(url)) return 'start-up';
  return null;
}

/**
 * A `--cpu-prof` profile of a `landfall run` process split by part: each sample goes to the
 * nearest frame on its stack that belongs to the producer (reading, partitioning, cutting and
 * sending batches) or the consumer (applying batches: Landfall's PostgreSQL code and the driver),
 * else to start-up (module loading), idle, or other (pollers, the SDK's HTTP outside either,
 * garbage collection). Approximate: a continuation after an await carries only the frames since.
 */
export function splitProfile(path: string): ProfileSplit {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const parent = new Map<number, number>();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // The CLI runs bundled (dist/cli): a frame's source file is in the bundle's source map.
  const maps = new Map<string, SourceMap | null>();
  const sourceOf = (frame: CpuProfile['nodes'][number]['callFrame']): string => {
    if (!frame.url.startsWith('file://') || !frame.url.endsWith('.mjs')) return frame.url;
    let map = maps.get(frame.url);
    if (map === undefined) {
      const path = `${fileURLToPath(frame.url)}.map`;
      map = existsSync(path) ? new SourceMap(JSON.parse(readFileSync(path, 'utf8'))) : null;
      maps.set(frame.url, map);
    }
    const entry = map?.findEntry(frame.lineNumber, frame.columnNumber);
    return entry && 'originalSource' in entry ? entry.originalSource : frame.url;
  };
  const partOf = new Map<number, keyof ProfileSplit>();
  const classify = (id: number): keyof ProfileSplit => {
    const known = partOf.get(id);
    if (known) return known;
    const node = byId.get(id)!;
    let part: keyof ProfileSplit | null = node.callFrame.functionName === '(idle)' ? 'idle' : partOfUrl(sourceOf(node.callFrame));
    if (!part) part = parent.has(id) ? classify(parent.get(id)!) : 'other';
    partOf.set(id, part);
    return part;
  };
  const split: ProfileSplit = { producer: 0, consumer: 0, 'start-up': 0, idle: 0, other: 0 };
  profile.samples.forEach((id, i) => (split[classify(id)] += (profile.timeDeltas[i] ?? 0) / 1e6));
  return split;
}
