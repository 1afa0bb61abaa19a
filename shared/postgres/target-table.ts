import { loadCatalog } from './catalog.ts';
import { requiredNotCarried, withAbsentColumns } from '../core/required-columns.ts';
import { type TableCatalog } from '../core/catalog-types.ts';
import type { LandfallConfig, TableConfig } from '../core/config.ts';
import { checkTableConfig, type KeyCheck, TableConfigError } from '../core/conflict-key.ts';
import { compileFreshInsert, compileUpsert, type CompiledFreshInsert, type CompiledUpsert } from './compile-upsert.ts';
import type { Sql } from './db.ts';
import { compileStoredKeyProbe, type CompiledStoredKeyProbe } from './stored-keys.ts';
import { migrateLedger } from './ledger/migrate.ts';
import { parseTableName } from '../core/identifiers.ts';
import { ensureTombstoneTable } from './tombstones.ts';
import { ensureSnapshotTables, type SnapshotTables } from './snapshot-tables.ts';
import { buildUpsertPlan, type UpsertPlan } from '../core/upsert-plan.ts';
import { type ArrayColumn, withArrayLiterals } from '../core/array-values.ts';
import type { BatchData } from '../core/batch.ts';

/** A configured table checked against its catalog, with its compiled statements cached per column set. */
export interface TargetTable {
  config: TableConfig;
  catalog: TableCatalog;
  keyCheck: KeyCheck;
  /** A snapshot table's keys and scopes tables (snapshot-tables.ts), else null. */
  snapshot: SnapshotTables | null;
  statements: Map<string, { plan: UpsertPlan; compiled: CompiledUpsert; fresh: CompiledFreshInsert; probe: CompiledStoredKeyProbe | null; arrays: ArrayColumn[] }>;
}

/**
 * Loads the catalog of one table and checks the config against it (throws TableConfigError);
 * a table with a `delete` rule gets its tombstone table (the ledger must be migrated first).
 */
export async function prepareTable(sql: Sql, config: TableConfig): Promise<TargetTable> {
  const catalog = await loadCatalog(sql, parseTableName(config.table));
  const keyCheck = checkTableConfig(config, catalog);
  await ensureTombstoneTable(sql, config, catalog, keyCheck);
  const snapshot = await ensureSnapshotTables(sql, config, catalog);
  return { config, catalog, keyCheck, snapshot, statements: new Map() };
}

export interface TableCache {
  /** The prepared table; rejects with a TableConfigError for a table outside the config. */
  table(name: string): Promise<TargetTable>;
  /** Drops a table's entry, so the next `table()` reads its catalog again. */
  forget(name: string): void;
}

/**
 * Configured tables prepared on first use, the one cache the consumer, replay and the CLI share:
 * the ledger migrated once before the first (a failed migration is tried again), the catalog
 * read and the key checked; a failed preparation is forgotten, so the next call tries again;
 * a catalog older than `maxAgeMs` is read again. `onPrepared` runs after each catalog read
 * (the consumer writes the producer's snapshot there).
 */
export function tableCache(sql: Sql, config: LandfallConfig, options: { maxAgeMs?: number; onPrepared?: (target: TargetTable) => Promise<void> } = {}): TableCache {
  let migrated: Promise<unknown> | undefined;
  const tables = new Map<string, Promise<TargetTable>>();
  const preparedAt = new Map<string, number>();
  const maxAge = options.maxAgeMs ?? Number.POSITIVE_INFINITY;
  return {
    forget(name) {
      tables.delete(name);
    },
    table(name) {
      if (Date.now() - (preparedAt.get(name) ?? 0) >= maxAge) tables.delete(name);
      let prepared = tables.get(name);
      if (!prepared) {
        const tableConfig = config.tables.find((t) => t.table === name);
        if (!tableConfig) return Promise.reject(new TableConfigError(name, 'is not in the config'));
        migrated ??= migrateLedger(sql).catch((error: unknown) => {
          migrated = undefined;
          throw error;
        });
        prepared = migrated
          .then(() => prepareTable(sql, tableConfig))
          .then(async (target) => {
            await options.onPrepared?.(target);
            return target;
          });
        prepared.catch(() => tables.delete(name));
        tables.set(name, prepared);
        preparedAt.set(name, Date.now());
      }
      return prepared;
    },
  };
}

/**
 * The plan and statement for batches carrying `columns`, with absent values in `absentColumns`
 * (BatchData.absent, among the rows applied), compiled once per column set.
 */
export function statementFor(target: TargetTable, columns: readonly string[], absentColumns: readonly string[] = []) {
  const cacheKey = absentColumns.length ? `${columns.join('\u0000')}\u0001${absentColumns.join('\u0000')}` : columns.join('\u0000');
  let entry = target.statements.get(cacheKey);
  if (!entry) {
    const plan = buildUpsertPlan(target.config, target.catalog, target.keyCheck, columns, absentColumns);
    entry = { plan, compiled: compileUpsert(plan), fresh: compileFreshInsert(plan), probe: compileStoredKeyProbe(plan), arrays: arrayColumnsOf(target.catalog, plan) };
    target.statements.set(cacheKey, entry);
  }
  return entry;
}

export { TableConfigError };

/** The plan's array columns (an array type, or a domain over one) and how their JSON arrays become literals. */
function arrayColumnsOf(catalog: TableCatalog, plan: UpsertPlan): ArrayColumn[] {
  const byName = new Map(catalog.columns.map((c) => [c.name, c]));
  return plan.columns.flatMap((c) => {
    const column = byName.get(c.name)!;
    if (column.category !== 'A' || !column.baseType.startsWith('_')) return [];
    return [{ input: c.input, jsonElements: column.baseType === '_json' || column.baseType === '_jsonb', ...(column.baseType === '_box' ? { delimiter: ';' } : {}) }];
  });
}

/**
 * The batch as the statements bind it: a JSON array (NDJSON, Parquet LIST) in an array column
 * rewritten as the array literal PostgreSQL reads as the same array (core/array-values.ts), and
 * each NOT NULL column without a default that the file does not carry bound as absent in every
 * row, so an update leaves it alone (core/required-columns.ts). The batch itself keeps the values
 * as the file had them (the quarantine shows those).
 */
export function boundBatch(target: TargetTable, batch: BatchData): BatchData {
  const { arrays } = statementFor(target, batch.columns);
  const values = withArrayLiterals(arrays, batch.values);
  const bound = values === batch.values ? batch : { ...batch, values: values as (string | null)[][] };
  return target.config.mode === 'insert' ? bound : withAbsentColumns(bound, requiredNotCarried(target.catalog.columns, batch));
}
