import type { BlockedTable } from '../shared/postgres/ledger/blocked-tables.ts';
import type { OpenQuarantine } from '../shared/postgres/quarantine-review.ts';
import type { QueueDepth } from '../shared/local/stack.ts';

/** A file as the status page gets it: a state string, its counts, and a reason and fix where there are. */
export interface PageFile {
  fileId: string;
  file: string;
  table: string;
  status: string;
  registeredAt: string;
  rejected: number;
  reason?: string | null;
  fix?: string;
  [count: string]: unknown;
}

/** One line of the "needs attention" band: what, how many, the files or tables it is about, and the fix. */
export interface AttentionItem {
  kind: 'blocked-table' | 'file-state' | 'rejects' | 'quarantine' | 'queue';
  severity: 'error' | 'warn';
  title: string;
  /** The fix for all of it (a command to run, or what to change). */
  fix: string;
  /** Up to {@link LISTED} of the files or tables it is about, newest first, each with its own reason and fix. */
  items: { name: string; detail?: string; reason?: string; fix?: string }[];
  /** How many there are in all (items lists the first few). */
  count: number;
}

/** How many files or tables one line lists; the rest are counted. */
export const LISTED = 5;

/**
 * File states that need nobody: a complete file, one still loading or being replayed (and one
 * complete with rejects: its rows have lines of their own, rejected and quarantined). Every
 * other state (moved aside, blocked, and the states this page does not know, such as a held
 * snapshot or a file that loaded nothing) is shown in the band, with its reason and fix.
 */
const QUIET_STATES = new Set(['complete', 'pending', 'replaying', 'in-progress', 'in progress', 'loading', 'complete with rejects']);

/** `2026-12-07T02:21:53Z` → `2026-12-07 02:21:53` (the page says the time zone once: UTC). */
const at = (iso: string) => iso.replace('T', ' ').replace(/(\.\d+)?Z$/, '');

const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;

/**
 * What needs attention, most urgent first: tables the consumer refuses, files in a state that is
 * not quiet (grouped by state), open quarantined rows, rejected rows, and messages in the DLQs
 * and the parking queue. `files` newest first.
 */
export function attentionOf(input: { files: readonly PageFile[]; blocked: readonly BlockedTable[]; quarantine: readonly OpenQuarantine[]; queues: readonly QueueDepth[] | null }): AttentionItem[] {
  const out: AttentionItem[] = [];
  const { files, blocked, quarantine, queues } = input;
  if (blocked.length) {
    const waiting = files.filter((f) => f.status === 'blocked').length;
    out.push({
      kind: 'blocked-table',
      severity: 'error',
      title: `${plural(blocked.length, 'table is', 'tables are')} blocked: the consumer refuses ${blocked.length === 1 ? 'it' : 'them'}${waiting ? `; ${plural(waiting, 'file waits', 'files wait')}` : ''}`,
      fix: 'fix each table as shown; redelivered batches then apply by themselves (landfall replay BATCH re-runs a parked one)',
      items: blocked.slice(0, LISTED).map((b) => ({ name: b.table, detail: `since ${at(b.firstSeen)}, ${plural(b.attempts, 'refusal')}`, reason: b.reason, ...(b.fix ? { fix: b.fix } : {}) })),
      count: blocked.length,
    });
  }
  const byState = new Map<string, PageFile[]>();
  for (const f of files) {
    if (QUIET_STATES.has(f.status) || f.status === 'blocked') continue;
    byState.set(f.status, [...(byState.get(f.status) ?? []), f]);
  }
  for (const [state, group] of byState) {
    out.push({
      kind: 'file-state',
      severity: 'error',
      title: `${plural(group.length, 'file')} ${state.replaceAll('-', ' ')}`,
      fix: state === 'moved-aside' ? 'fix each file as shown and drop it again; landfall forget FILE clears one from this list' : `landfall status FILE says what to do`,
      items: group.slice(0, LISTED).map((f) => ({ name: f.file, detail: `${f.table || '(no table)'}, ${at(f.registeredAt)}`, ...(f.reason ? { reason: f.reason } : {}), ...(f.fix ? { fix: f.fix } : {}) })),
      count: group.length,
    });
  }
  if (quarantine.length) {
    const rows = quarantine.reduce((sum, q) => sum + q.open, 0);
    const tables = [...new Set(quarantine.map((q) => q.table))];
    out.push({
      kind: 'quarantine',
      severity: 'error',
      title: `${plural(rows, 'quarantined row')} open in ${plural(quarantine.length, 'file')}: PostgreSQL refused ${rows === 1 ? 'it' : 'them'}, the rest of ${quarantine.length === 1 ? 'its file' : 'their files'} applied`,
      fix: `landfall quarantine ls${tables.length === 1 ? ` --table ${tables[0]}` : ''} shows why; fix the cause and landfall quarantine retry, or close them with landfall quarantine resolve|dismiss --file F --reason "…"`,
      items: quarantine.slice(0, LISTED).map((q) => ({ name: q.file, detail: `${q.table}: ${plural(q.open, 'row')}, first ${at(q.firstSeen)}`, reason: q.sample, fix: `landfall quarantine ls --table ${q.table}` })),
      count: quarantine.length,
    });
  }
  const rejecting = files.filter((f) => f.rejected > 0);
  if (rejecting.length) {
    const rows = rejecting.reduce((sum, f) => sum + f.rejected, 0);
    out.push({
      kind: 'rejects',
      severity: 'warn',
      title: `${plural(rows, 'row')} rejected in ${plural(rejecting.length, 'file')}: the producer could not read ${rows === 1 ? 'it' : 'them'}, nothing of ${rows === 1 ? 'it' : 'them'} was loaded`,
      fix: 'landfall rejects ls FILE shows each line and why; correct those lines and drop them as a new file',
      items: rejecting.slice(0, LISTED).map((f) => ({ name: f.file, detail: `${f.table}: ${plural(f.rejected, 'row')} rejected, ${at(f.registeredAt)}`, fix: `landfall rejects ls ${f.file}` })),
      count: rejecting.length,
    });
  }
  for (const q of queues ?? []) {
    const depth = q.visible + q.inFlight;
    if (depth === 0) continue;
    if (q.queue === 'parking') {
      out.push({ kind: 'queue', severity: 'error', title: `${plural(depth, 'batch', 'batches')} parked: replay could not apply ${depth === 1 ? 'it' : 'them'} either`, fix: 'fix the cause (a blocked table above, the database), then landfall replay BATCH for each (landfall status FILE lists a file\'s batches)', items: [{ name: q.name, detail: `${q.visible} waiting, ${q.inFlight} in flight` }], count: depth });
    } else if (q.queue === 'batchesDlq') {
      out.push({ kind: 'queue', severity: 'warn', title: `${plural(depth, 'batch', 'batches')} in the DLQ: replay is applying ${depth === 1 ? 'it' : 'them'} row by row, bad rows go to the quarantine`, fix: 'nothing to do unless it stays: then the dev terminal shows replay\'s errors, and the batches go on to parking', items: [{ name: q.name, detail: `${q.visible} waiting, ${q.inFlight} in flight` }], count: depth });
    } else if (q.queue === 'intakeDlq') {
      out.push({ kind: 'queue', severity: 'error', title: `${plural(depth, 'file notification')} in the intake DLQ: the producer failed on ${depth === 1 ? 'it' : 'them'} again and again`, fix: 'the dev terminal shows the producer\'s error; fix it and drop the file again (landfall drop FILE --force)', items: [{ name: q.name, detail: `${q.visible} waiting, ${q.inFlight} in flight` }], count: depth });
    }
  }
  return out.sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1));
}
