import { loadCatalog } from './catalog.ts';
import { type TableCatalog } from '../core/catalog-types.ts';
import type { LandfallConfig, TableConfig } from '../core/config.ts';
import { checkTableConfig, type KeyCheck, TableConfigError } from '../core/conflict-key.ts';
import { compileFreshInsert, compileUpsert, type CompiledFreshInsert, type CompiledUpsert } from './compile-upsert.ts';
import type { Sql } from './db.ts';
import { parseTableName } from '../core/identifiers.ts';
import { ensureTombstoneTable } from './tombstones.ts';
import { buildUpsertPlan, type UpsertPlan } from '../core/upsert-plan.ts';

/** A configured table checked against its catalog, with its compiled statements cached per column set. */
export interface TargetTable {
  config: TableConfig;
  catalog: TableCatalog;
  keyCheck: KeyCheck;
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
  return { config, catalog, keyCheck, statements: new Map() };
}

/**
 * Prepares every configured table at start-up. All refusals are collected, so one run shows
 * every table that needs fixing.
 */
export async function prepareTables(sql: Sql, config: LandfallConfig): Promise<Map<string, TargetTable>> {
  const tables = new Map<string, TargetTable>();
  const errors: Error[] = [];
  for (const table of config.tables) {
    try {
      tables.set(table.table, await prepareTable(sql, table));
    } catch (error) {
      errors.push(error as Error);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, errors.map((e) => e.message).join('\n'));
  return tables;
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
