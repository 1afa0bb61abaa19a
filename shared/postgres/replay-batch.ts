import { absentAmong, type ApplyResult, claimBatch, explainOverflow, refusedBeforeBinding, rowsExcept, storedCounts, upsertRows } from './apply-batch.ts';
import { mergesColumns } from '../core/upsert-plan.ts';
import { batchRowCount, type BatchData } from '../core/batch.ts';
import { classifyFailure, FailureScope, pgErrorFields } from '../core/classify-pg-error.ts';
import type { Sql, TxSql } from './db.ts';
import { withPartitionAdvice } from '../core/partition-routing.ts';
import { arrayElementsOf } from '../core/array-values.ts';
import { toPgArrayLiteral } from './pg-array.ts';
import { quarantineRows, type RowFailure } from './quarantine.ts';
import { boundBatch, statementFor, type TargetTable } from './target-table.ts';
import { limitTransaction, type TransactionLimits, workMemFor } from './transaction-limits.ts';
import { suspectRows } from './screen-constraints.ts';
import { recordSnapshotBatch } from './snapshot-removal.ts';

export interface ReplayResult extends ApplyResult {
  /** The rows quarantined by this replay, with their reasons. */
  failures: RowFailure[];
}

function failureOf(target: TargetTable, row: number, error: unknown): RowFailure {
  return { row, ...withPartitionAdvice(pgErrorFields(error), target.catalog) };
}

/**
 * The set-based screen: for every column, the values that do not parse as the column's type
 * (its full type, modifier included: 'abcdef' for varchar(5) fails here), found in one query per
 * column with PostgreSQL's own input functions. A row is reported once, for its first bad column.
 */
export async function screenValues(tx: TxSql, target: TargetTable, batch: BatchData, rows: readonly number[]): Promise<RowFailure[]> {
  const { plan } = statementFor(target, batch.columns);
  const byName = new Map(target.catalog.columns.map((c) => [c.name, c]));
  const failures = new Map<number, RowFailure>();
  for (const column of plan.columns) {
    const fullType = byName.get(column.name)!.type;
    // An array column's element type (`numeric(10,2)[]` → `numeric(10,2)`), to name the element that does not cast.
    const elementType = column.cast?.endsWith('[]') ? fullType.replace(/(\[\])+$/, '') : null;
    const values = batch.values[column.input]!;
    const found = await tx.unsafe<{ i: number; message: string; code: string }[]>(
      `SELECT u.i::int AS i, e.message, e.sql_error_code AS code
       FROM unnest($1::text[], $2::int4[]) AS u(v, i)
       CROSS JOIN LATERAL pg_input_error_info(u.v, $3) AS e
       WHERE u.v IS NOT NULL AND NOT pg_input_is_valid(u.v, $3)`,
      [toPgArrayLiteral(rows.map((r) => values[r]!)), toPgArrayLiteral(rows as number[]), fullType],
    );
    for (const f of found) {
      if (failures.has(f.i)) continue;
      const element = elementType ? await badElement(tx, values[f.i]!, elementType, byName.get(column.name)!.baseType === '_box' ? ';' : ',') : null;
      failures.set(f.i, {
        row: f.i,
        sqlstate: element?.code ?? f.code,
        constraint: null,
        column: column.name,
        message: `column "${column.name}" (${fullType})${element ? ` element ${element.position}` : ''}: ${element?.message ?? f.message}`,
      });
    }
  }
  return [...failures.values()].sort((a, b) => a.row - b.row);
}

/** The first element of an array value that does not cast to the element type, with its subscripts; null when each does (a malformed literal, ragged dimensions). */
async function badElement(tx: TxSql, value: string, elementType: string, delimiter: string): Promise<{ position: string; message: string; code: string } | null> {
  const elements = arrayElementsOf(value, delimiter);
  if (!elements?.length) return null;
  const [bad] = await tx.unsafe<{ n: number; message: string; code: string }[]>(
    `SELECT e.n::int AS n, x.message, x.sql_error_code AS code
     FROM unnest($1::text[]) WITH ORDINALITY AS e(v, n) CROSS JOIN LATERAL pg_input_error_info(e.v, $2) AS x
     WHERE e.v IS NOT NULL AND NOT pg_input_is_valid(e.v, $2) ORDER BY e.n LIMIT 1`,
    [toPgArrayLiteral(elements.map((e) => e.value)), elementType],
  );
  return bad ? { position: elements[bad.n - 1]!.position, message: bad.message, code: bad.code } : null;
}

/**
 * Applies `rows` under a savepoint; when the set fails on its data, splits it and tries again,
 * down to single rows, which are the failures. A CardinalityViolation (21000: rows the database
 * sees as one key only after a trigger or a collation) is resolved by applying the rows one at
 * a time in arrival order, so the winner rule decides and no row is lost to it.
 */
async function applyIsolating(tx: TxSql, target: TargetTable, batch: BatchData, rows: readonly number[]): Promise<RowFailure[]> {
  if (rows.length === 0) return [];
  try {
    await tx.savepoint((sp) => upsertRows(sp, target, batch, rows));
    return [];
  } catch (error) {
    // Only a row's failure is isolated; the batch's (54011…) is thrown whole, for the caller to quarantine the batch.
    if (classifyFailure(error).scope !== FailureScope.row) throw error;
    if (rows.length === 1) return [failureOf(target, rows[0]!, error)];
    const failures: RowFailure[] = [];
    if (pgErrorFields(error).sqlstate === '21000') {
      for (const row of rows) failures.push(...(await applyIsolating(tx, target, batch, [row])));
      return failures;
    }
    const middle = rows.length >> 1;
    failures.push(...(await applyIsolating(tx, target, batch, rows.slice(0, middle))));
    failures.push(...(await applyIsolating(tx, target, batch, rows.slice(middle))));
    return failures;
  }
}

/**
 * The rows in winner order, oldest first, when the order the rows are applied in can change the
 * result: merge rules (or absent values) with a version column, whose values may come from a row
 * other than the winner. Bisection then applies older rows before newer ones, as the whole
 * statement would have (docs/rules.md, "Merge rules"). Otherwise the rows as they are (file order).
 */
async function inWinnerOrder(tx: TxSql, target: TargetTable, batch: BatchData, rows: readonly number[]): Promise<readonly number[]> {
  const { plan } = statementFor(target, batch.columns, [...absentAmong(batch, rows).keys()]);
  const version = plan.version;
  if (!version || !mergesColumns(plan) || rows.length < 2) return rows;
  const ordered = await tx.unsafe<{ i: number }[]>(
    `SELECT u.i::int AS i FROM unnest($1::${version.param}[], $2::int4[]) WITH ORDINALITY AS u(v, i, o)
     ORDER BY u.v${version.cast ? `::${version.cast}` : ''} ASC NULLS FIRST, u.o ASC`,
    [toPgArrayLiteral(rows.map((r) => batch.values[version.input]![r] ?? null)), toPgArrayLiteral(rows as number[])],
  );
  return ordered.map((r) => r.i);
}

/**
 * Applies `rows` in order with each suspect row (screen-constraints.ts) on its own and the runs
 * between suspects as sets, each under `applyIsolating`: the same order, and the same failures,
 * as bisecting the whole, without re-running the upsert on every half around a bad row.
 */
async function applyAround(tx: TxSql, target: TargetTable, batch: BatchData, rows: readonly number[], suspects: ReadonlySet<number>): Promise<RowFailure[]> {
  if (suspects.size === 0) return applyIsolating(tx, target, batch, rows);
  const failures: RowFailure[] = [];
  let run: number[] = [];
  for (const row of rows) {
    if (!suspects.has(row)) {
      run.push(row);
      continue;
    }
    failures.push(...(await applyIsolating(tx, target, batch, run)), ...(await applyIsolating(tx, target, batch, [row])));
    run = [];
  }
  failures.push(...(await applyIsolating(tx, target, batch, run)));
  return failures;
}

/**
 * Re-applies a batch that failed as a set, so that one bad row never blocks the others: screens
 * values that do not cast, and rows the table's CHECK and NOT NULL constraints likely refuse
 * (applied on their own), applies the rest with savepoints (bisecting to the rows that fail),
 * quarantines each bad row with its SQLSTATE and reason, all in one exactly-once transaction with
 * the ledger claim. An already applied batch commits nothing. `limits` bound its statements by
 * the function's deadline (`limitTransaction`).
 */
export async function replayBatch(sql: Sql, target: TargetTable, batch: BatchData, limits?: TransactionLimits): Promise<ReplayResult> {
  const count = batchRowCount(batch);
  const { plan } = statementFor(target, batch.columns);
  return (await sql.begin(async (tx) => {
    await limitTransaction(tx, limits, workMemFor(batch));
    if (!(await claimBatch(tx, batch))) {
      return { status: 'already-applied', counts: await storedCounts(tx, batch.batchId), failures: [] };
    }
    // A snapshot file's keys, screened: a row quarantined below still counts as present.
    await recordSnapshotBatch(tx, target, batch, 'screened');
    const refused = refusedBeforeBinding(plan, target, batch);
    const candidates = rowsExcept(count, refused) ?? Array.from({ length: count }, (_, i) => i);
    const bound = boundBatch(target, batch);
    const badValues = await screenValues(tx, target, bound, candidates);
    const remaining = rowsExcept(count, [...refused, ...badValues]) ?? candidates;
    const ordered = await inWinnerOrder(tx, target, bound, remaining);
    // Merge rules combine a key's rows in one statement (a sum, a kept value): a suspect applied
    // on its own could fail, or pass, where the set would not, so merging plans bisect the whole.
    const merging = mergesColumns(statementFor(target, bound.columns, [...absentAmong(bound, ordered).keys()]).plan);
    const suspects = merging ? new Set<number>() : await suspectRows(tx, target, bound, ordered);
    const pinned = await applyAround(tx, target, bound, ordered, suspects);
    const explained: RowFailure[] = [];
    for (const failure of pinned) explained.push(await explainOverflow(tx, target, bound, failure));
    const failures = [...refused, ...badValues, ...explained].sort((a, b) => a.row - b.row);
    await quarantineRows(tx, batch, failures);
    return { status: 'applied', counts: await storedCounts(tx, batch.batchId), failures };
  })) as ReplayResult;
}
