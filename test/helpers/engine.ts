import { parseConfig, type TableConfig, type TableConfigInput } from '../../shared/core/config.ts';
import type { Sql } from '../../shared/postgres/db.ts';
import { migrateLedger } from '../../shared/postgres/ledger/migrate.ts';
import { prepareTable, type TargetTable } from '../../shared/postgres/target-table.ts';

/** A validated table config from the fields a test cares about. */
export function tableConfig(fields: Partial<TableConfigInput> & Pick<TableConfig, 'table' | 'conflictKey'>): TableConfig {
  return parseConfig({ tables: [fields] }).tables[0]!;
}

/** Creates the ledger and prepares a table that the test created. */
export async function prepare(sql: Sql, fields: Partial<TableConfigInput> & Pick<TableConfig, 'table' | 'conflictKey'>): Promise<TargetTable> {
  await migrateLedger(sql);
  return prepareTable(sql, tableConfig(fields));
}
