import { type BatchData, fileArrivalOf } from '../core/batch.ts';
import { classifyPgError, ErrorClass, pgErrorFields } from '../core/classify-pg-error.ts';
import { snapshotRuleOf, isSnapshotFile } from '../core/snapshot-config.ts';
import { SCOPE_CHUNK } from '../core/snapshot-plan.ts';
import {
  compileKeyRecord,
  compileRemovalChunk,
  compileScopeClaim,
  countKeysSql,
  type CompiledKeyRecord,
  forgetKeysSql,
  newerSnapshotSql,
  type RemovalTarget,
  snapshotArrivalOf,
  splitWorst,
} from './compile-removal.ts';
import type { Sql, TxSql } from './db.ts';
import {
  claimSnapshotFile,
  fileForRemoval,
  HeldCode,
  type HeldNumbers,
  noteSnapshotBatch,
  recordRemovalDone,
  recordRemovalHeld,
} from './ledger/snapshot-files.ts';
import { toPgArrayLiteral } from './pg-array.ts';
import { keyAndScopeColumns } from './snapshot-tables.ts';
import { statementFor, type TargetTable } from './target-table.ts';

/**
 * The snapshot rule at run time (docs/rules.md, "Snapshots"): what every batch of a snapshot
 * table does in its own transaction (`recordSnapshotBatch`), and the removal that runs once per
 * snapshot file after its last batch (`removeMissing`), claimed in the ledger in the same
 * transaction as its deletes.
 */

/** The transaction-scoped lock that orders a table's removals against its batches (shared by batches, exclusive for a removal). */
const lockKeyOf = (table: string) => `landfall.snapshot:${table}`;

export function removalTargetOf(target: TargetTable): RemovalTarget {
  const rule = snapshotRuleOf(target.config);
  if (!rule || !target.snapshot || !target.keyCheck.arrivalColumn) throw new Error(`table "${target.config.table}" is not a prepared snapshot table`);
  return {
    target: target.catalog.quoted,
    key: [...target.config.conflictKey],
    nullsEqual: target.keyCheck.index.nullsNotDistinct,
    scope: rule.scope,
    softDelete: rule.softDelete,
    arrivalColumn: target.keyCheck.arrivalColumn.name,
    keys: target.snapshot.keys,
    scopes: target.snapshot.scopes,
    recorded: keyAndScopeColumns(target.config),
  };
}

const keyRecords = new WeakMap<TargetTable, Map<string, CompiledKeyRecord>>();

function keyRecordFor(target: TargetTable, columns: readonly string[], screened: boolean): CompiledKeyRecord {
  let cache = keyRecords.get(target);
  if (!cache) keyRecords.set(target, (cache = new Map()));
  const cacheKey = `${screened ? 's' : 'p'}\u0000${columns.join('\u0000')}`;
  let compiled = cache.get(cacheKey);
  if (!compiled) {
    const { plan } = statementFor(target, columns);
    const fullTypes = new Map(target.catalog.columns.map((c) => [c.name, c.type]));
    compiled = compileKeyRecord(plan, removalTargetOf(target), screened ? { fullTypes } : null);
    cache.set(cacheKey, compiled);
  }
  return compiled;
}

/**
 * How a batch's keys are recorded: `plain` (every row's key casts, or the batch's transaction
 * fails as its upsert would), `screened` (rows refused or quarantined: a key or scope value
 * that does not cast, or holds a NUL byte, is counted as a row without a trusted key instead),
 * `keyless` (the batch does not fit the table: none of its keys is trusted).
 */
export type KeyRecording = 'plain' | 'screened' | 'keyless';

/**
 * A batch of a snapshot table, in the batch's own transaction, before its rows are written:
 * takes the table's shared snapshot lock (so a removal never runs between a batch's read of the
 * scopes and its commit), and for a snapshot file records its keys and scope values (a row
 * quarantined later still counts as present) and how many rows had no trusted key. Nothing for
 * other tables. Returns the rows recorded.
 */
export async function recordSnapshotBatch(tx: TxSql, target: TargetTable, batch: BatchData, recording: KeyRecording): Promise<number> {
  if (!target.snapshot) return 0;
  await shareSnapshotLock(tx, target);
  if (!isSnapshotFile(target.config, batch.file.key)) return 0;
  const rows = batch.rowNumbers.length;
  let recorded = 0;
  if (recording !== 'keyless' && rows > 0) {
    const columns = keyAndScopeColumns(target.config);
    const inputs = columns.map((c) => batch.columns.indexOf(c));
    // PostgreSQL text holds no NUL byte: such a key cannot be bound, let alone trusted.
    const bindable = recording === 'plain' ? null : batch.rowNumbers.map((_, r) => inputs.every((i) => !(batch.values[i]![r] ?? '').includes('\u0000')));
    const pick = (column: readonly (string | null)[]) => (bindable ? column.filter((_, r) => bindable[r]) : column);
    const compiled = keyRecordFor(target, batch.columns, recording === 'screened');
    const params = [batch.fileId, ...compiled.inputs.map((i) => toPgArrayLiteral(pick(batch.values[i]!))), ...compiled.types];
    const [row] = await tx.unsafe<{ recorded: number }[]>(compiled.text, params);
    recorded = row!.recorded;
  }
  await noteSnapshotBatch(tx, batch, recorded, rows - recorded);
  return recorded;
}

/** Any write to a snapshot table's rows waits while a removal of the table runs (and a removal waits for the writes in flight). */
export async function shareSnapshotLock(tx: TxSql, target: TargetTable): Promise<void> {
  if (target.snapshot) await tx`SELECT pg_advisory_xact_lock_shared(hashtext(${lockKeyOf(target.config.table)}))`;
}

/** True when a scope of the table has a snapshot newer than the batch's file: its rows must take the upsert (COPY cannot tell stale rows). */
export async function newerSnapshotExists(tx: TxSql, target: TargetTable, batch: Pick<BatchData, 'arrival'>): Promise<boolean> {
  if (!target.snapshot) return false;
  const [row] = await tx.unsafe<{ newer: boolean }[]>(newerSnapshotSql(target.snapshot.scopes), [snapshotArrivalOf(batch.arrival)]);
  return row!.newer;
}

export type RemovalOutcome =
  | { state: 'waiting' }
  | { state: 'moved-aside' }
  /** A file of the table under its `incrementalPrefix`: it removes nothing. */
  | { state: 'not-a-snapshot' }
  | { state: 'held'; code: HeldCode; reason: string; numbers: HeldNumbers }
  | { state: 'done'; removed: number; scopes: number; superseded: number; stored: number; already: boolean };

/** A held removal's state in the ledger, or a guard's verdict: the reason in words, the numbers, the way on. */
function heldReason(code: HeldCode, n: HeldNumbers, soft: boolean): string {
  const verb = soft ? 'mark as deleted' : 'remove';
  const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;
  const scopeText = (scope: Record<string, unknown>) => (Object.keys(scope).length ? Object.entries(scope).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ') : 'the whole table');
  const all = `in all it would ${verb} ${n.removed} of ${n.stored} stored rows in ${n.scopes - n.superseded} scope${n.scopes - n.superseded === 1 ? '' : 's'}`;
  if (code === HeldCode.keysLost) return `the keys its batches recorded are gone (the snapshot keys table was reset): going ahead would ${verb} rows the file holds; drop the file again to record them`;
  if (code === HeldCode.failed) return `the removal failed on the data (${n.error?.sqlstate ?? '?'}: ${n.error?.message ?? '?'}), so nothing was removed; fix the cause (a foreign key that refuses the delete, a trigger), then go ahead`;
  if (code === HeldCode.empty) return `the file holds no rows: ${all}`;
  if (code === HeldCode.rejects) {
    const parts = [n.rejected ? `${n.rejected} rejected` : '', n.keyless ? `${n.keyless} quarantined` : ''].filter(Boolean).join(' and ');
    return `${parts} row${n.rejected + n.keyless === 1 ? ' has' : 's have'} no trusted key, so rows ${n.rejected + n.keyless === 1 ? 'it holds' : 'they hold'} could be taken for missing: ${all}`;
  }
  const w = n.worst!;
  return `it would ${verb} ${w.removed} of ${w.stored} stored rows (${pct(w.removed / w.stored)}) of ${scopeText(w.scope)}, more than maxRemovedShare ${pct(n.maxRemovedShare)}${n.over > 1 ? ` (${n.over} scopes are over it)` : ''}; ${all}`;
}

class HoldRemoval extends Error {
  override name = 'HoldRemoval';
  constructor(readonly code: HeldCode) {
    super(code);
  }
}

export interface RemovalOptions {
  /** Go ahead whatever the guards say (`landfall snapshot confirm`, `--force`). */
  force?: boolean;
  /** Recorded with a removal that went ahead past a guard: `confirm` or `force`. */
  by?: string;
  /** The file's arrival when the caller knows it (the batch's); else the ledger's. */
  arrival?: string;
}

/**
 * The removal of one snapshot file, exactly once: in ONE transaction, waits for the table's
 * batches in flight (exclusive snapshot lock), claims the file's row in the ledger, and, when
 * every batch is applied and the removal has neither run nor been held, records the file as its
 * scopes' newest snapshot and removes, one anti-join per chunk of scopes, each stored row of a
 * live scope whose key the file did not hold and whose last write is older than the file. The
 * guards (an empty file, rows without a trusted key, more than `maxRemovedShare` of a scope)
 * roll the removal back and record the file `held` with the numbers; `force` goes ahead. A
 * second call, concurrent or later, finds the claim and removes nothing.
 */
export async function removeMissing(sql: Sql, target: TargetTable, fileId: string, options: RemovalOptions = {}): Promise<RemovalOutcome> {
  const r = removalTargetOf(target);
  const rule = snapshotRuleOf(target.config)!;
  const registered = await fileForRemoval(sql, fileId);
  if (registered && !isSnapshotFile(target.config, registered.key)) return { state: 'not-a-snapshot' };
  const outcome = (await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtext(${lockKeyOf(target.config.table)}))`;
    const claim = await claimSnapshotFile(tx, { fileId, table: target.config.table });
    if (claim.state === 'done') {
      return { state: 'done', removed: claim.removed, scopes: claim.scopes ?? 0, superseded: claim.superseded ?? 0, stored: claim.stored ?? 0, already: true } as const;
    }
    const force = Boolean(options.force) || claim.force;
    if (claim.state === 'held' && !force) return { state: 'held', code: claim.heldCode!, reason: claim.heldReason ?? '', numbers: claim.heldNumbers! } as const;
    const file = await fileForRemoval(tx, fileId);
    if (!file) return { state: 'waiting' } as const;
    if (file.outcome !== 'produced') return { state: 'moved-aside' } as const;
    if (file.applied < file.batchCount) return { state: 'waiting' } as const;
    const fileArrival = options.arrival ?? claim.arrival ?? fileArrivalOf({ eventTime: file.eventTime, key: file.key });
    const arrival = snapshotArrivalOf(fileArrival);
    const numbers: HeldNumbers = {
      read: file.read,
      rejected: file.rejected,
      keyless: file.keyless,
      scopes: 0,
      superseded: 0,
      stored: 0,
      removed: 0,
      over: 0,
      maxRemovedShare: rule.maxRemovedShare,
      worst: null,
    };
    const [stored] = await tx.unsafe<{ n: number }[]>(countKeysSql(r.keys), [fileId]);
    if (Number(stored!.n) < file.keys) {
      const reason = heldReason(HeldCode.keysLost, numbers, r.softDelete !== null);
      await recordRemovalHeld(tx, fileId, { arrival: fileArrival, code: HeldCode.keysLost, reason, numbers });
      return { state: 'held', code: HeldCode.keysLost, reason, numbers } as const;
    }
    const fileTime = file.eventTime;
    try {
      await tx.savepoint(async (sp) => {
        const [claimed] = await sp.unsafe<{ covered: number; live: number; chunks: number }[]>(compileScopeClaim(r), [fileId, arrival, SCOPE_CHUNK]);
        numbers.scopes = claimed!.covered;
        numbers.superseded = claimed!.covered - claimed!.live;
        const chunk = compileRemovalChunk(r);
        for (let i = 0; i < claimed!.chunks; i++) {
          const params: (string | number)[] = [fileId, i, arrival, rule.maxRemovedShare, ...(r.softDelete ? [fileTime] : [])];
          const [c] = await sp.unsafe<{ scopes: number; stored: number; removed: number; over: number; worst: Record<string, unknown> | null }[]>(chunk, params);
          numbers.stored += Number(c!.stored);
          numbers.removed += Number(c!.removed);
          numbers.over += c!.over;
          const worst = splitWorst(c!.worst);
          if (worst && (!numbers.worst || worst.removed * numbers.worst.stored > numbers.worst.removed * worst.stored)) numbers.worst = worst;
        }
        if (force) return;
        if (file.read === 0) throw new HoldRemoval(HeldCode.empty);
        if (file.rejected > 0 || file.keyless > 0) throw new HoldRemoval(HeldCode.rejects);
        if (numbers.over > 0) throw new HoldRemoval(HeldCode.share);
      });
    } catch (error) {
      // A removal PostgreSQL refuses on the data (23503: a row another table still references)
      // would fail every retry alike: held with the reason instead, so the operator sees it.
      const failed = !(error instanceof HoldRemoval) && classifyPgError(error) === ErrorClass.batchPoison;
      if (!(error instanceof HoldRemoval) && !failed) throw error;
      const code = error instanceof HoldRemoval ? error.code : HeldCode.failed;
      if (failed) numbers.error = { sqlstate: pgErrorFields(error).sqlstate, message: pgErrorFields(error).message };
      const reason = heldReason(code, numbers, r.softDelete !== null);
      await recordRemovalHeld(tx, fileId, { arrival: fileArrival, code, reason, numbers });
      return { state: 'held', code, reason, numbers } as const;
    }
    const confirmedBy = claim.state === 'held' || force ? (options.by ?? (claim.force ? 'force' : 'confirm')) : null;
    await recordRemovalDone(tx, fileId, { arrival: fileArrival, scopes: numbers.scopes, superseded: numbers.superseded, stored: numbers.stored, removed: numbers.removed, confirmedBy });
    return { state: 'done', removed: numbers.removed, scopes: numbers.scopes, superseded: numbers.superseded, stored: numbers.stored, already: false } as const;
  })) as RemovalOutcome;
  // The keys of a file whose removal ran are no longer needed; forgetting them is idempotent, so a
  // crash here only leaves them for the next call (or `landfall snapshot confirm`) to forget.
  if (outcome.state === 'done') await sql.unsafe(forgetKeysSql(r.keys), [fileId]).catch(() => {});
  return outcome;
}
