import { loadCatalog } from './catalog.ts';
import { type TableCatalog } from '../core/catalog-types.ts';
import type { LandfallConfig, TableConfig } from '../core/config.ts';
import { checkTableConfig, type KeyCheck, TableConfigError } from '../core/conflict-key.ts';
import { compileFreshInsert, compileUpsert, type CompiledFreshInsert, type CompiledUpsert } from './compile-upsert.ts';
import type { Sql } from './db.ts';
import { migrateLedger } from './ledger/migrate.ts';
import { parseTableName } from '../core/identifiers.ts';
import { ensureTombstoneTable } from './tombstones.ts';
import { ensureSnapshotTables, type SnapshotTables } from './snapshot-tables.ts';
import { buildUpsertPlan, type UpsertPlan } from '../core/upsert-plan.ts';

/** A configured table checked against its catalog, with its compiled statements cached per column set. */
export interface TargetTable {
  config: TableConfig;
  catalog: TableCatalog;
  keyCheck: KeyCheck;
  /** A snapshot table's keys and scopes tables (snapshot-tables.ts), else null. */
  snapshot: SnapshotTables | null;
  statements: Map<string, { plan: UpsertPlan; compiled: CompiledUpsert; fresh: CompiledFreshInsert }>;
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

/** The plan and statement for batches carrying `columns`, compiled once per column set. */
export function statementFor(target: TargetTable, columns: readonly string[]) {
  const cacheKey = columns.join('\u0000');
  let entry = target.statements.get(cacheKey);
  if (!entry) {
    const plan = buildUpsertPlan(target.config, target.catalog, target.keyCheck, columns);
    entry = { plan, compiled: compileUpsert(plan), fresh: compileFreshInsert(plan) };
    target.statements.set(cacheKey, entry);
  }
  return entry;
}

export { TableConfigError };
