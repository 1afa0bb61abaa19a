import type { TxSql } from '../db.ts';

export interface SchemaChange {
  /** The table as the config names it, and its catalog name. */
  table: string;
  schema: string;
  relation: string;
  column: string;
  type: string;
  fileId: string;
  batchId: string;
}

/** Records a column `"schema": "evolve"` added; a column recorded before stays as first recorded. */
export async function recordSchemaChange(tx: TxSql, change: SchemaChange): Promise<void> {
  await tx`
    INSERT INTO landfall.schema_changes (table_name, schema_name, relation_name, column_name, column_type, file_id, batch_id)
    VALUES (${change.table}, ${change.schema}, ${change.relation}, ${change.column}, ${change.type}, ${change.fileId}, ${change.batchId})
    ON CONFLICT (table_name, column_name) DO NOTHING`;
}
