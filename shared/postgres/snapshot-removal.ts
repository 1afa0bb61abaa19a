import { type BatchData, fileArrivalOf } from '../core/batch.ts';
import { classifyPgError, ErrorClass, pgErrorFields } from '../core/classify-pg-error.ts';
import { snapshotRuleOf, isSnapshotFile } from '../core/snapshot-config.ts';
import { SCOPE_CHUNK } from '../core/snapshot-plan.ts';
import {
  compileKeyRecord,
  compileRemovalChunk,
  compileScopeClaim,
  compileStoredCounts,
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
  forceSnapshotFile,
  HeldCode,
  type HeldNumbers,
  keysOnlyOf,
  markKeysForgotten,
  noteSnapshotBatch,
  snapshotFileSeq,
  recordRemovalDone,
  recordRemovalHeld,
} from './ledger/snapshot-files.ts';
import { toPgArrayLiteral } from './pg-array.ts';
import { keyAndScopeColumns } from './snapshot-tables.ts';
import { statementFor, type TargetTable } from './target-table.ts';
import { keyCastsOf } from '../core/upsert-plan.ts';

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
    keyCasts: keyCastsOf(target.config, target.catalog),
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
  const seq = await snapshotFileSeq(tx, batch);
  let recorded = 0;
  if (recording !== 'keyless' && rows > 0) {
    const columns = keyAndScopeColumns(target.config);
    const inputs = columns.map((c) => batch.columns.indexOf(c));
    // PostgreSQL text holds no NUL byte: such a key cannot be bound, let alone trusted.
    const bindable = recording === 'plain' ? null : batch.rowNumbers.map((_, r) => inputs.every((i) => !(batch.values[i]![r] ?? '').includes('\u0000')));
    const pick = (column: readonly (string | null)[]) => (bindable ? column.filter((_, r) => bindable[r]) : column);
    const compiled = keyRecordFor(target, batch.columns, recording === 'screened');
    const params = [seq, ...compiled.inputs.map((i) => toPgArrayLiteral(pick(batch.values[i]!))), ...compiled.types];
    const [row] = await tx.unsafe<{ recorded: number }[]>(compiled.text, params);
    recorded = row!.recorded;
  }
  await noteSnapshotBatch(tx, batch, { keys: recorded, keyless: rows - recorded, relation: target.snapshot.keys });
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

class NotASnapshot extends Error {
  override name = 'NotASnapshot';
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
 * `--force` on `run`/`drop`, or `landfall snapshot confirm` before the file's last batch: the
 * file's removal goes ahead whatever its guards say when it runs; a removal held already runs
 * now. Returns what the removal did (`waiting` when it is still to run).
 */
export async function forceRemoval(sql: Sql, target: TargetTable, fileId: string, by = 'force'): Promise<RemovalOutcome> {
  const state = await forceSnapshotFile(sql, { fileId, table: target.config.table });
  if (state === 'done') return removeMissing(sql, target, fileId);
  return removeMissing(sql, target, fileId, { force: true, by });
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
  let forgetAfter = false;
  let seq = 0;
  const outcome = (await sql
    .begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(hashtext(${lockKeyOf(target.config.table)}))`;
      const claim = await claimSnapshotFile(tx, { fileId, table: target.config.table });
      seq = claim.seq;
      if (claim.state === 'done') {
        return { state: 'done', removed: claim.removed, scopes: claim.scopes ?? 0, superseded: claim.superseded ?? 0, stored: claim.stored ?? 0, already: true } as const;
      }
      const force = Boolean(options.force) || claim.force;
      if (claim.state === 'held' && !force) return { state: 'held', code: claim.heldCode!, reason: claim.heldReason ?? '', numbers: claim.heldNumbers! } as const;
      const file = await fileForRemoval(tx, fileId, r.keys);
      if (!file) return { state: 'waiting' } as const;
      // A file under the table's incrementalPrefix removes nothing (its callers check first; this claim is rolled back).
      if (!isSnapshotFile(target.config, file.key)) throw new NotASnapshot();
      if (file.outcome === 'moved-aside') return { state: 'moved-aside' } as const;
      // Still being read (its batch count not final), or batches to apply.
      if (file.outcome !== 'produced' || file.batchCount === null || file.applied < file.batchCount) return { state: 'waiting' } as const;
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
      if (file.keysLost) {
        const reason = heldReason(HeldCode.keysLost, numbers, r.softDelete !== null);
        await recordRemovalHeld(tx, fileId, { arrival: fileArrival, code: HeldCode.keysLost, reason, numbers });
        return { state: 'held', code: HeldCode.keysLost, reason, numbers } as const;
      }
      const fileTime = file.eventTime;
      try {
        await tx.savepoint(async (sp) => {
          const [claimed] = await sp.unsafe<{ covered: number; live: number; chunks: number }[]>(compileScopeClaim(r), [claim.seq, arrival, SCOPE_CHUNK]);
          numbers.scopes = claimed!.covered;
          numbers.superseded = claimed!.covered - claimed!.live;
          // The scopes table just gained this file's scopes: without fresh statistics the planner
          // takes it for one row and probes the keys once per stored row (a few ms: it is small).
          if (r.scope.length && claimed!.live > 0) await sp.unsafe(`ANALYZE ${r.scopes}`);
          const [storedSql, removeSql] = [compileStoredCounts(r), compileRemovalChunk(r)];
          for (let i = 0; i < claimed!.chunks; i++) {
            const [before] = await sp.unsafe<{ scopes: number; stored: number }[]>(storedSql, [claim.seq, i]);
            const params: (string | number)[] = [claim.seq, i, arrival, ...(r.scope.length ? [rule.maxRemovedShare] : []), ...(r.softDelete ? [fileTime] : [])];
            let removed: number;
            let over: number;
            let worst: HeldNumbers['worst'];
            if (r.scope.length === 0) {
              removed = (await sp.unsafe(removeSql, params)).count;
              over = removed > rule.maxRemovedShare * before!.stored ? 1 : 0;
              worst = removed > 0 ? { scope: {}, stored: before!.stored, removed } : null;
            } else {
              const [c] = await sp.unsafe<{ removed: number; over: number; worst: Record<string, unknown> | null }[]>(removeSql, params);
              ({ removed, over } = c!);
              worst = splitWorst(c!.worst);
            }
            numbers.stored += before!.stored;
            numbers.removed += removed;
            numbers.over += over;
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
      // The file's keys are not needed any more. When no other file of the table still needs its
      // own (the usual case: one snapshot at a time), the keys table is emptied at once, in this
      // transaction; otherwise they are deleted after it commits.
      const { only, doneOthers } = await keysOnlyOf(tx, target.config.table, fileId);
      if (only) {
        await tx.unsafe(`TRUNCATE ${r.keys}`);
        await markKeysForgotten(tx, doneOthers);
      }
      forgetAfter = !only;
      await recordRemovalDone(tx, fileId, { arrival: fileArrival, scopes: numbers.scopes, superseded: numbers.superseded, stored: numbers.stored, removed: numbers.removed, confirmedBy, keysForgotten: only });
      return { state: 'done', removed: numbers.removed, scopes: numbers.scopes, superseded: numbers.superseded, stored: numbers.stored, already: false } as const;
    })
    .catch((error: unknown) => {
      if (error instanceof NotASnapshot) return { state: 'not-a-snapshot' } as const;
      throw error;
    })) as RemovalOutcome;
  // Idempotent: a crash here only leaves the keys for a later removal of the table to forget.
  if (outcome.state === 'done' && forgetAfter) {
    await sql.unsafe(forgetKeysSql(r.keys), [seq]).then(() => markKeysForgotten(sql, [fileId])).catch(() => {});
  }
  return outcome;
}
