import type postgres from 'postgres';
import { loadCatalog, TableNotFoundError } from '../../postgres/catalog.ts';
import { type TableCatalog } from '../../core/catalog-types.ts';
import type { LandfallConfig } from '../../core/config.ts';
import type { Sql } from '../../postgres/db.ts';
import { distinctEstimateSql, duplicateStatsSql } from '../dedupe/plan.ts';
import { parseTableName, quoteIdent } from '../../core/identifiers.ts';
import { diagnoseTable, uncheckedReport, withBlockedCheck, type DoctorTarget, type DuplicateCount, type PartitionReport, type TableReport } from './diagnose.ts';
import { listBlockedTables } from '../../postgres/ledger/blocked-tables.ts';
import { ledgerExists } from '../../postgres/ledger/files.ts';

export interface InspectOptions {
  /** From this many estimated rows on, take the planner's estimate before the exact count. */
  largeTableRows?: number;
  /** Report the estimate only on large tables (no full GROUP BY). */
  estimateOnly?: boolean;
  /** Cancel the exact count after this long and report the estimate (0: no limit). */
  countTimeoutMs?: number;
  /** Told the estimate of a large table before the exact count starts. */
  onEstimate?: (table: string, estimate: { rows: number; distinctKeys: number }) => void;
}

export const DEFAULT_LARGE_TABLE_ROWS = 10_000_000;

/** The doctor targets of a config: every configured table. */
export function targetsFromConfig(config: LandfallConfig): DoctorTarget[] {
  return config.tables.map((t) => ({ table: t.table, key: [...t.conflictKey], version: t.version, mode: t.mode, arrivalColumn: t.arrivalColumn, ...(t.mode === 'snapshot' ? { config: t } : {}) }));
}

async function estimateDistinct(sql: Sql, catalog: TableCatalog, key: string[]): Promise<{ rows: number; distinctKeys: number } | null> {
  if (catalog.estimatedRows < 0) return null;
  const [row] = await sql.unsafe<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }[]>(distinctEstimateSql(catalog.quoted, key));
  const plan = row?.['QUERY PLAN'];
  const parsed = typeof plan === 'string' ? (JSON.parse(plan) as [{ Plan: { 'Plan Rows': number } }]) : plan;
  const distinctKeys = parsed?.[0]?.Plan['Plan Rows'];
  return typeof distinctKeys === 'number' ? { rows: catalog.estimatedRows, distinctKeys } : null;
}

async function countDuplicates(sql: Sql, catalog: TableCatalog, target: DoctorTarget, options: InspectOptions): Promise<DuplicateCount> {
  const nullable = target.key.filter((k) => !catalog.columns.find((c) => c.name === k)!.notNull);
  const large = catalog.estimatedRows >= (options.largeTableRows ?? DEFAULT_LARGE_TABLE_ROWS);
  const estimate = large ? await estimateDistinct(sql, catalog, target.key) : null;
  const fromEstimate = (): DuplicateCount => {
    const surplus = estimate ? Math.max(0, estimate.rows - estimate.distinctKeys) : 0;
    return { exact: false, groups: surplus > 0 ? Math.min(surplus, estimate!.distinctKeys) : 0, surplus, nullGroups: 0, nullSurplus: 0, rows: null, estimate };
  };
  if (estimate) options.onEstimate?.(target.table, estimate);
  if (large && options.estimateOnly) return fromEstimate();
  try {
    const [stats] = (await sql.begin('read only', async (tx) => {
      // set_config(..., true) is SET LOCAL: it ends with the transaction, nothing survives behind a proxy.
      if (options.countTimeoutMs) await tx`SELECT set_config('statement_timeout', ${String(Math.max(1, Math.floor(options.countTimeoutMs)))}, true)`;
      return tx.unsafe<{ groups: number; surplus: number; nullGroups: number; nullSurplus: number; rows: number }[]>(duplicateStatsSql(catalog.quoted, target.key, nullable));
    })) as { groups: number; surplus: number; nullGroups: number; nullSurplus: number; rows: number }[];
    return { exact: true, ...stats!, estimate };
  } catch (error) {
    if ((error as postgres.PostgresError).code === '57014' && options.countTimeoutMs) return fromEstimate();
    throw error;
  }
}

/** Rows of a default partition counted at most (a larger one is reported as "more than"). */
const DEFAULT_PARTITION_COUNT_CAP = 100_000;

/** The partitions of a partitioned table, and the rows of its default partitions (null for a plain table). */
async function gatherPartitions(sql: Sql, catalog: TableCatalog): Promise<PartitionReport | null> {
  if (!catalog.partitioning?.length) return null;
  const partitions = await sql<PartitionReport['partitions']>`
    SELECT t.relid::regclass::text AS name, t.parentrelid::regclass::text AS parent, t.level::int AS level,
           coalesce(pg_get_expr(c.relpartbound, c.oid), '') AS bound, t.isleaf AS leaf
    FROM pg_partition_tree(to_regclass(${catalog.quoted})) t JOIN pg_class c ON c.oid = t.relid
    WHERE t.level > 0
    ORDER BY t.level, t.parentrelid::regclass::text, t.relid::regclass::text`;
  const defaults: PartitionReport['defaults'] = [];
  for (const d of partitions.filter((p) => p.bound === 'DEFAULT')) {
    // Identifiers from the catalog (regclass output is quoted as needed).
    const [counted] = await sql.unsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM (SELECT 1 FROM ${d.name} LIMIT ${DEFAULT_PARTITION_COUNT_CAP + 1}) x`);
    const rows = counted!.n;
    if (rows === 0) continue;
    const capped = rows > DEFAULT_PARTITION_COUNT_CAP;
    const level = catalog.partitioning.find((l) => l.table === d.parent);
    let range: PartitionReport['defaults'][number]['range'] = [];
    if (!capped && level && !level.expression) {
      const [r] = await sql.unsafe<Record<string, string | null>[]>(
        `SELECT ${level.columns.map((c, i) => `min(${quoteIdent(c)})::text AS min${i}, max(${quoteIdent(c)})::text AS max${i}`).join(', ')} FROM ${d.name}`,
      );
      range = level.columns.map((column, i) => ({ column, min: r![`min${i}`] ?? null, max: r![`max${i}`] ?? null }));
    }
    defaults.push({ name: d.name, parent: d.parent, rows: capped ? DEFAULT_PARTITION_COUNT_CAP : rows, capped, range });
  }
  return { partitions: partitions.map((p) => ({ ...p })), defaults };
}

/** Gathers one table's catalog and duplicate count and diagnoses it; never throws for the table. */
export async function inspectTable(sql: Sql, target: DoctorTarget, options: InspectOptions = {}): Promise<TableReport> {
  try {
    let catalog: TableCatalog;
    try {
      catalog = await loadCatalog(sql, parseTableName(target.table));
    } catch (error) {
      if (error instanceof TableNotFoundError) return diagnoseTable(target, null, null);
      throw error;
    }
    const keysExist = target.key.every((k) => catalog.columns.some((c) => c.name === k));
    const duplicates = keysExist ? await countDuplicates(sql, catalog, target, options) : null;
    return diagnoseTable(target, catalog, duplicates, await gatherPartitions(sql, catalog));
  } catch (error) {
    const e = error as postgres.PostgresError;
    return uncheckedReport(target, e.code ? `${e.message} (SQLSTATE ${e.code})` : e.message);
  }
}

/**
 * Every target in order; one bad table does not stop the others. Each report ends with the
 * `blocked` check: whether the consumer refuses the table (the ledger's record), as `status` says.
 */
export async function inspectTables(sql: Sql, targets: readonly DoctorTarget[], options: InspectOptions = {}): Promise<TableReport[]> {
  // A user who may not read the ledger gets the table checks without this one.
  const blocked = await (async () => ((await ledgerExists(sql)) ? listBlockedTables(sql) : []))().catch(() => null);
  const reports: TableReport[] = [];
  for (const target of targets) {
    const report = await inspectTable(sql, target, options);
    reports.push(blocked ? withBlockedCheck(report, blocked.find((b) => b.table === target.table) ?? null) : report);
  }
  return reports;
}
