import { ARRIVAL, mapColumnName, type TableConfig } from './config.ts';
import { parseTableName, quoteIdent, quoteQualified } from './identifiers.ts';
import { snapshotRuleOf } from './snapshot-config.ts';
import { UnreadableFileError, UnreadableReason } from './read/errors.ts';

export interface ColumnPlan {
  /** Table column of each file column, in file order (after the config's mapping). */
  columns: string[];
  /** Position in `columns` of each conflict key column, in `conflictKey` order. */
  keyIndexes: number[];
}

export interface PlanOptions {
  /**
   * The table's columns when known (e.g. from a catalog snapshot). The producer has no
   * database, so without them an unknown column is found by the engine instead.
   */
  knownColumns?: ReadonlySet<string>;
  /** Unknown columns are let through, for the consumer to add (`"schema": "evolve"`). */
  evolve?: boolean;
}

const MAX_IDENTIFIER_BYTES = 63;

/**
 * Maps a file's columns (CSV header, NDJSON fields, Parquet schema) to table columns.
 * Errors name the file column: an empty or duplicate name, an unknown column (when the table's
 * columns are known), a missing conflict key or version column.
 */
export function planColumns(table: TableConfig, fileColumns: readonly string[], options: PlanOptions = {}): ColumnPlan {
  const columns: string[] = [];
  const seen = new Map<string, string>();
  const unknown: string[] = [];
  const unknownColumns: string[] = [];
  fileColumns.forEach((fileColumn, i) => {
    if (fileColumn.trim() === '') {
      throw new UnreadableFileError(UnreadableReason.badHeader, `column ${i + 1} has an empty name`, { field: `#${i + 1}` });
    }
    const column = mapColumnName(table, fileColumn);
    if (Buffer.byteLength(column, 'utf8') > MAX_IDENTIFIER_BYTES) {
      throw new UnreadableFileError(
        UnreadableReason.badHeader,
        `column "${fileColumn}" is longer than PostgreSQL allows (63 bytes)`,
        { field: fileColumn },
      );
    }
    const earlier = seen.get(column);
    if (earlier !== undefined) {
      const via = earlier === fileColumn ? '' : ` (as "${earlier}" and "${fileColumn}")`;
      throw new UnreadableFileError(UnreadableReason.badHeader, `column "${column}" appears twice${via}`, { field: fileColumn });
    }
    // The consumer's rule (upsert-plan.ts): a table that has its arrival column gets it written
    // by Landfall on every write, whatever the version rule. The producer knows the table has it
    // when the version is `$arrival` (the consumer refuses the table otherwise) or from the snapshot.
    if (column === table.arrivalColumn && (table.version === ARRIVAL || options.knownColumns?.has(column))) {
      throw new UnreadableFileError(
        UnreadableReason.badHeader,
        `column "${fileColumn}" is the arrival column "${table.arrivalColumn}", which Landfall writes itself`,
        { field: fileColumn },
      );
    }
    if (column === snapshotRuleOf(table)?.softDelete) {
      throw new UnreadableFileError(UnreadableReason.badHeader, `column "${fileColumn}" is the snapshot's soft-delete column "${column}", which Landfall writes itself`, { field: fileColumn });
    }
    if (options.knownColumns && !options.evolve && !options.knownColumns.has(column) && column !== table.delete?.column) {
      unknown.push(column === fileColumn ? `"${fileColumn}"` : `"${fileColumn}" (mapped to "${column}")`);
      unknownColumns.push(column);
    }
    seen.set(column, fileColumn);
    columns.push(column);
  });
  const missing = table.conflictKey.filter((key) => !columns.includes(key)).map((name) => ({ what: 'conflict key column', name }));
  if (table.version !== ARRIVAL && !columns.includes(table.version)) missing.push({ what: 'version column', name: table.version });
  for (const scope of snapshotRuleOf(table)?.scope ?? []) if (!columns.includes(scope) && !missing.some((m) => m.name === scope)) missing.push({ what: 'snapshot scope column', name: scope });
  if (unknown.length || missing.length) throw headerMisfit(table, unknown, unknownColumns, missing);
  return { columns, keyIndexes: table.conflictKey.map((key) => columns.indexOf(key)) };
}

/**
 * One error for a header that does not fit the table, naming every unknown and missing column
 * and the fixes, so the file is refused whole instead of quarantining each of its rows.
 */
function headerMisfit(table: TableConfig, unknown: string[], unknownColumns: string[], missing: { what: string; name: string }[]): UnreadableFileError {
  const problems: string[] = [];
  if (unknown.length) problems.push(`unknown column${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}: table "${table.table}" has no such column`);
  if (missing.length) problems.push(`missing ${missing.map((m) => `${m.what} "${m.name}"`).join(', ')} of table "${table.table}"`);
  const fixes: string[] = [];
  if (unknown.length) {
    const target = quoteQualified(parseTableName(table.table));
    const add = unknownColumns.map((c) => `ADD COLUMN ${quoteIdent(c)} text`).join(', ');
    fixes.push(
      `map ${unknown.length > 1 ? 'them' : 'it'} to a table column in the config's "columns", drop ${unknown.length > 1 ? 'them' : 'it'} from the file, ` +
        `or add ${unknown.length > 1 ? 'them' : 'it'}: ALTER TABLE ${target} ${add}; ("schema": "evolve" adds unknown columns itself)`,
    );
  }
  if (missing.length) fixes.push(`the file must carry every conflict key column${table.version !== ARRIVAL ? ' and the version column' : ''}${snapshotRuleOf(table)?.scope.length ? ' and every scope column' : ''} (or map its header to them in "columns")`);
  return new UnreadableFileError(
    unknown.length ? UnreadableReason.unknownColumn : UnreadableReason.missingColumn,
    `${problems.join('; ')}. Fix: ${fixes.join('; ')}; then drop the file again`,
    { field: unknownColumns[0] ?? missing[0]!.name },
  );
}
