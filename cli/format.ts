import { type BatchCounts, countsAddUp } from '../shared/core/batch.ts';
import type { BatchReceipt, FileReceipt } from '../shared/postgres/ledger/files.ts';
import { fixForUnreadable } from '../shared/core/read/errors.ts';
import type { QuarantinedRow } from '../shared/postgres/quarantine-retry.ts';
import type { BlockedTable } from '../shared/postgres/ledger/blocked-tables.ts';

/** How many characters of a batch or file id the tables show; commands accept such a prefix back. */
export const SHORT_ID = 12;

export const shortId = (id: string) => id.slice(0, SHORT_ID);

/** A whole number for people: `1,000,000`. */
export const n = (x: number) => Math.round(x).toLocaleString('en-US');

/** `1 row`, `2 rows`. */
export const plural = (count: number, noun: string, many = `${noun}s`) => `${n(count)} ${count === 1 ? noun : many}`;

/**
 * Pads columns to a plain-text table; `right` names the columns (by index) aligned right, as
 * numbers read best. The last column is never padded.
 */
export function alignedTable(rows: readonly (readonly string[])[], right: ReadonlySet<number> = new Set()): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 && !right.has(i) ? cell : right.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The counts of rule 4 after `read`, in the order DESIGN.md names them. */
const ACCOUNTED = ['collapsed', 'inserted', 'updated', 'unchanged', 'stale', 'deleted', 'quarantined'] as const satisfies readonly (keyof BatchCounts)[];

/**
 * Rule 4 for one file: `read = rejected + collapsed + inserted + updated + unchanged + stale +
 * deleted + quarantined`. Decided only for a complete file (`addsUp` is null until then: rows of
 * batches not applied yet are read but not counted anywhere). `missing` > 0: rows unaccounted
 * for; < 0: rows counted twice.
 */
export function fileBalance(r: FileReceipt): { accounted: number; missing: number; addsUp: boolean | null } {
  const accounted = r.rejected + ACCOUNTED.reduce((sum, c) => sum + r[c], 0);
  // A file stopped part-way (the invocation cap) is final too, and a held snapshot file has every
  // batch applied (only its removal waits): their rows are accounted for.
  return { accounted, missing: r.read - accounted, addsUp: r.status === 'complete' || r.status === 'held' || r.status === 'stopped' ? countsAddUp(r, r.rejected) : null };
}

/** Rule 4 for one applied batch (rejected rows never reach a batch); null for a batch not applied. */
export function batchAddsUp(b: BatchReceipt): boolean | null {
  return b.status === 'applied' ? countsAddUp(b) : null;
}

function balanceCell(r: FileReceipt): string {
  const { missing, addsUp } = fileBalance(r);
  if (r.status === 'moved-aside') return 'not read: landfall status FILE';
  if (r.status === 'stopped') return `${addsUp ? 'yes' : 'NO'}, the rest not read: landfall status FILE`;
  if (r.status === 'blocked') return 'waits for its table: landfall status FILE';
  if (addsUp === null) return '-';
  if (addsUp) return 'yes';
  return missing > 0 ? `NO: ${plural(missing, 'row')} missing` : `NO: ${plural(-missing, 'row')} too many`;
}

const COUNT_HEADERS = ['READ', 'REJECTED', ...ACCOUNTED.map((c) => c.toUpperCase())];
/** A snapshot file's removed rows: beside rule 4, not inside READ (they were not read, they were missing). */
const removedCell = (r: FileReceipt) => (r.status === 'held' ? `held (${n(r.held?.removed ?? 0)})` : n(r.removed));
const countCells = (r: FileReceipt) => [r.read, r.rejected, ...ACCOUNTED.map((c) => r[c])].map(n);

/**
 * The receipts of many files, one line each, then a summary that names every complete file
 * that does not add up.
 *
 * @example
 * FILE           TABLE   STATUS    BATCHES  READ  REJECTED  COLLAPSED  INSERTED ...  ADDS UP
 * test/a.csv     orders  complete      1/1  1,000        0          0       994 ...  yes
 */
export function formatStatusTable(receipts: readonly FileReceipt[], blocked: readonly BlockedTable[] = []): string {
  const tables = formatBlockedTables(blocked);
  if (receipts.length === 0) return `${tables}No files yet: drop one into the inbox (landfall drop FILE --table T).\n`;
  const rows = [['FILE', 'TABLE', 'STATUS', 'BATCHES', ...COUNT_HEADERS, 'ADDS UP', 'REMOVED']];
  for (const r of receipts) rows.push([r.file, r.table || '(none)', r.state, `${r.batchesApplied}/${r.batches ?? '?'}`, ...countCells(r), balanceCell(r), removedCell(r)]);
  const right = new Set([...Array.from({ length: COUNT_HEADERS.length + 1 }, (_, i) => i + 3), COUNT_HEADERS.length + 5]);
  return `${tables}${alignedTable(rows, right)}\n\n${statusSummary(receipts)}`;
}

/**
 * Tables the consumer refused, with the reason and the fix, before the files: their batches
 * are retried (then the DLQ and replay) until the table is fixed, and applied then.
 */
export function formatBlockedTables(blocked: readonly BlockedTable[]): string {
  if (blocked.length === 0) return '';
  const lines = [`${plural(blocked.length, 'table is', 'tables are')} BLOCKED: the consumer refuses ${blocked.length === 1 ? 'it' : 'them'}; ${blocked.length === 1 ? 'its' : 'their'} batches wait (retried, then replayed) and apply once fixed:`];
  for (const b of blocked) {
    lines.push(`  ${b.table}: ${oneLine(b.reason)} (since ${b.firstSeen}, ${plural(b.attempts, 'refusal')}, last ${b.lastSeen})`);
    if (b.fix) lines.push(`    fix: ${oneLine(b.fix)}`);
  }
  lines.push('After the fix: redelivered batches apply by themselves; landfall replay BATCH re-runs one that reached the DLQ or the parking queue.');
  return `${lines.join('\n')}\n\n`;
}

function statusSummary(receipts: readonly FileReceipt[]): string {
  const by = (status: string) => receipts.filter((r) => r.status === status).length;
  const byState = (state: string) => receipts.filter((r) => r.state === state).length;
  const lines = [
    `${plural(receipts.length, 'file')}: ${n(by('complete'))} complete (${n(byState('complete with rejects'))} with rejects, ${n(byState('complete, 0 loaded'))} with 0 loaded), ${n(by('pending'))} in progress, ${n(by('replaying'))} replaying, ${n(by('blocked'))} blocked, ${n(by('moved-aside'))} moved aside${by('held') ? `, ${n(by('held'))} held` : ''}${by('stopped') ? `, ${n(by('stopped'))} stopped part-way` : ''}`,
  ];
  for (const r of receipts.filter((f) => f.state === 'complete, 0 loaded')) lines.push(`  0 loaded: ${r.file}: every row of it was rejected or quarantined (read ${n(r.read)})`);
  for (const r of receipts.filter((f) => f.status === 'pending' && f.reason)) lines.push(`  interrupted: ${r.file}: ${oneLine(r.reason!)}; ${r.fix ?? ''}`);
  for (const r of receipts.filter((f) => f.status === 'held')) lines.push(`  held: ${r.file}: ${oneLine(r.reason ?? '-')}; go ahead: ${r.fix ?? '-'}`);
  for (const r of receipts.filter((f) => f.status === 'blocked')) lines.push(`  blocked: ${r.file}: table ${r.table} refused: ${oneLine(r.reason ?? '-')}`);
  for (const r of receipts.filter((f) => f.status === 'moved-aside')) lines.push(`  moved aside: ${r.file}: ${r.reason ?? 'unreadable'}; now at ${r.movedTo ?? '-'}`);
  for (const r of receipts.filter((f) => f.status === 'stopped')) lines.push(`  stopped: ${r.file}: ${oneLine(r.reason ?? '-')}; fix: ${r.fix ?? '-'}`);
  if (by('moved-aside')) lines.push('Moved-aside files: landfall status FILE gives the fix; landfall forget FILE clears one from this list.');
  const unbalanced = receipts.filter((r) => fileBalance(r).addsUp === false);
  if (unbalanced.length) {
    lines.push(`${plural(unbalanced.length, 'complete file does', 'complete files do')} NOT add up (read = rejected + collapsed + inserted + updated + unchanged + stale + deleted + quarantined):`);
    for (const r of unbalanced) lines.push(`  ${r.file} (${shortId(r.fileId)}): read ${n(r.read)}, accounted for ${n(fileBalance(r).accounted)}`);
  }
  const quarantined = receipts.reduce((sum, r) => sum + r.quarantined, 0);
  if (quarantined) lines.push(`${plural(quarantined, 'row')} quarantined: landfall quarantine ls`);
  if (by('replaying')) lines.push('Files replaying have poisoned batches: landfall status FILE lists them; landfall replay BATCH re-runs one.');
  const rejected = receipts.reduce((sum, r) => sum + r.rejected, 0);
  if (rejected) lines.push(`${plural(rejected, 'row')} rejected by the producer: landfall rejects ls`);
  return `${lines.join('\n')}\n`;
}

/** One file in detail: its receipt, the rule-4 sum written out, and a line per batch. */
export function formatFileDetail(r: FileReceipt, batches: readonly BatchReceipt[]): string {
  const { accounted, missing, addsUp } = fileBalance(r);
  const sum = `rejected ${n(r.rejected)} + ${ACCOUNTED.map((c) => `${c} ${n(r[c])}`).join(' + ')}`;
  const verdict =
    addsUp === null
      ? `not decided until the file is complete (${n(accounted)} accounted for so far)`
      : addsUp
        ? 'adds up'
        : `DOES NOT ADD UP: ${missing > 0 ? `${plural(missing, 'row')} missing` : `${plural(-missing, 'row')} too many`}`;
  if (r.status === 'moved-aside') {
    return `${alignedTable([
      ['File', `s3://${r.bucket}/${r.file}`],
      ['File id', r.fileId],
      ['Table', r.table || '(none: no configured prefix)'],
      ['Status', 'moved aside, not read: no row of it was applied'],
      ['Registered', r.registeredAt],
      ['Reason', r.reason ?? '-'],
      ['Now at', r.movedTo ?? '-'],
      ['Fix', fixForUnreadable(r.reasonCode)],
    ])}\n`;
  }
  const head = alignedTable([
    ['File', `s3://${r.bucket}/${r.file}`],
    ['File id', r.fileId],
    ['Table', r.table],
    ['Status', `${r.state}, ${n(r.batchesApplied)} of ${r.batches === null ? '? batches applied (the producer is still reading it, or was stopped)' : `${plural(r.batches, 'batch', 'batches')} applied`}`],
    ...(r.status === 'blocked' ? [['Reason', `the consumer refuses the table: ${oneLine(r.reason ?? '-')}`], ['Fix', oneLine(r.fix ?? 'landfall doctor --config F')]] : []),
    ...((r.status === 'pending' || r.status === 'stopped') && r.reason ? [['Reason', oneLine(r.reason)], ['Fix', oneLine(r.fix ?? '-')]] : []),
    ...(r.previousOutcome ? [['Corrected', `the ledger had it ${r.previousOutcome}; a later registration of the file corrected it`]] : []),
    ...(r.status === 'held' ? [['Held', `the snapshot's removal waits: ${oneLine(r.reason ?? '-')}`], ['Go ahead', `${r.fix ?? '-'}   (or drop it again with --force)`]] : []),
    ['Registered', r.registeredAt],
    ['Accounting', `read ${n(r.read)} = ${sum}: ${verdict}`],
    ...(r.removed || r.status === 'held' ? [['Removed', `${n(r.removed)} stored rows the snapshot did not hold (not part of read)`]] : []),
  ]);
  const rows = [['BATCH', 'PARTITION', 'CHUNK', 'ROWS', 'STATUS', ...COUNT_HEADERS.filter((h) => h !== 'REJECTED'), 'APPLIED', 'ADDS UP', 'LAST ERROR']];
  for (const b of batches) {
    const ok = batchAddsUp(b);
    rows.push([
      shortId(b.batchId),
      String(b.partition),
      String(b.chunk),
      b.firstRow === null ? '-' : `${b.firstRow}-${b.lastRow}`,
      b.status,
      ...[b.read, ...ACCOUNTED.map((c) => b[c])].map(n),
      `${b.applications}x`,
      ok === null ? '-' : ok ? 'yes' : 'NO',
      oneLine(b.lastError ?? ''),
    ]);
  }
  const lines = [head, ''];
  lines.push(batches.length ? alignedTable(rows, new Set([1, 2, 5, 6, 7, 8, 9, 10, 11, 12, 13])) : 'No batch in the ledger yet.');
  const unseen = (r.batches ?? 0) - batches.length;
  if (unseen > 0) lines.push(`${plural(unseen, 'batch', 'batches')} not seen by the consumer yet.`);
  const poisoned = batches.filter((b) => b.status === 'poisoned');
  if (poisoned.length) lines.push(`Poisoned batches wait for replay; to re-run one now: landfall replay ${shortId(poisoned[0]!.batchId)}`);
  if (r.quarantined) lines.push(`${plural(r.quarantined, 'row')} quarantined: landfall quarantine ls --table ${r.table}`);
  if (r.rejected) lines.push(`${plural(r.rejected, 'row')} rejected: landfall rejects ls ${r.file}`);
  if (r.status === 'pending' && r.batchesApplied === 0) lines.push('Nothing applied yet: if it stays so, landfall doctor checks the table; landfall forget FILE clears the attempt.');
  return `${lines.join('\n')}\n`;
}

/** Keeps a table cell on one line (PostgreSQL messages may carry a DETAIL line). */
export const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ');

/**
 * A quarantined row as `quarantine ls --json` and `quarantine export` print it: where it came
 * from, the row itself, and why it did not apply.
 */
export function quarantineRecord(q: QuarantinedRow) {
  return {
    id: q.id,
    table: q.table,
    file: q.fileKey,
    fileId: q.fileId,
    batchId: q.batchId,
    rowNumber: q.rowNumber,
    row: q.row,
    ...(q.absent.length ? { absent: q.absent } : {}),
    reason: { sqlstate: q.sqlstate, constraint: q.constraint, column: q.column, message: q.message },
    arrival: q.arrival,
    firstSeen: q.firstSeen,
    lastSeen: q.lastSeen,
    attempts: q.attempts,
    status: q.status,
    ...(q.status === 'open' ? {} : { resolution: { how: q.status, reason: q.resolutionReason, at: q.resolvedAt } }),
  };
}

/**
 * Quarantined rows without their values: file, row number, SQLSTATE, constraint or column,
 * message; with closed rows among them (`ls --all`), how and why each left the quarantine.
 */
export function formatQuarantineTable(rows: readonly QuarantinedRow[]): string {
  const closed = rows.some((q) => q.status !== undefined && q.status !== 'open');
  const table = [['ID', ...(closed ? ['STATUS'] : []), 'TABLE', 'FIRST SEEN', 'FILE', 'ROW', 'BATCH', 'SQLSTATE', 'CONSTRAINT/COLUMN', 'ATTEMPTS', 'MESSAGE']];
  for (const q of rows) {
    const status = q.status === 'open' ? 'open' : `${q.status} ${q.resolvedAt ?? ''}${q.resolutionReason ? `: ${oneLine(q.resolutionReason)}` : ''}`;
    table.push([
      String(q.id),
      ...(closed ? [status] : []),
      q.table,
      q.firstSeen,
      q.fileKey,
      String(q.rowNumber),
      shortId(q.batchId),
      q.sqlstate ?? '-',
      q.constraint ?? (q.column ? `column ${q.column}` : '-'),
      String(q.attempts),
      oneLine(q.message),
    ]);
  }
  return alignedTable(table, closed ? new Set([0, 5, 9]) : new Set([0, 4, 8]));
}
