import type { BatchData } from '../core/batch.ts';
import type { Sql } from './db.ts';
import type { ColumnAddition } from '../core/evolve-plan.ts';
import { quoteIdent } from '../core/identifiers.ts';
import { recordSchemaChange } from './ledger/schema-changes.ts';
import type { TargetTable } from './target-table.ts';

/**
 * `"schema": "evolve"` could not add a file's columns. `code` is the SQLSTATE of the ALTER TABLE
 * (54011: more columns than PostgreSQL allows; 42501: not the table's owner; 42701: a system
 * column's name), which classifyFailure reads at the `evolve` stage: most belong to the file's
 * batch, not to the table.
 */
export class ColumnAdditionError extends Error {
  override name = 'ColumnAdditionError';
  readonly code: string | undefined;
  readonly columns: string[];
  constructor(table: string, columns: readonly string[], cause: unknown) {
    const c = cause as { code?: unknown; message?: unknown };
    const shown = columns.slice(0, 5).map((name) => `"${name}"`).join(', ');
    const names = columns.length > 5 ? `${shown} and ${(columns.length - 5).toLocaleString('en-US')} more (${columns.length.toLocaleString('en-US')} columns)` : shown;
    super(`"schema": "evolve" could not add ${names} to ${table}: ${typeof c?.message === 'string' ? c.message : String(cause)}`, { cause });
    this.code = typeof c?.code === 'string' ? c.code : undefined;
    this.columns = [...columns];
  }
}

/**
 * Adds the columns in their own transaction (never inside a batch's), each as nullable, and
 * records them in `landfall.schema_changes`. `IF NOT EXISTS` and the table lock make concurrent
 * consumers adding the same column harmless; a short lock timeout turns a long wait into a retry
 * (55P03 is transient). Returns the columns this call added; a failure is a ColumnAdditionError.
 */
export async function addColumns(sql: Sql, target: TargetTable, batch: Pick<BatchData, 'batchId' | 'fileId'>, additions: readonly ColumnAddition[]): Promise<string[]> {
  if (additions.length === 0) return [];
  const { schema, name } = target.catalog.table;
  try {
    return await addMissing(sql, target, batch, additions, schema, name);
  } catch (error) {
    throw new ColumnAdditionError(target.config.table, additions.map((a) => a.name), error);
  }
}

async function addMissing(sql: Sql, target: TargetTable, batch: Pick<BatchData, 'batchId' | 'fileId'>, additions: readonly ColumnAddition[], schema: string, name: string): Promise<string[]> {
  return (await sql.begin(async (tx) => {
    await tx`SELECT set_config('lock_timeout', '10s', true)`;
    const existing = await tx<{ name: string }[]>`
      SELECT a.attname AS name FROM pg_attribute a
      WHERE a.attrelid = ${target.catalog.quoted}::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attname = ANY(${additions.map((a) => a.name)}::text[])`;
    const missing = additions.filter((a) => !existing.some((e) => e.name === a.name));
    if (missing.length === 0) return [];
    await tx.unsafe(`ALTER TABLE ${target.catalog.quoted} ${missing.map((a) => `ADD COLUMN IF NOT EXISTS ${quoteIdent(a.name)} ${a.type}`).join(', ')}`);
    for (const a of missing) {
      await recordSchemaChange(tx, { table: target.config.table, schema, relation: name, column: a.name, type: a.type, fileId: batch.fileId, batchId: batch.batchId });
    }
    return missing.map((a) => a.name);
  })) as string[];
}
