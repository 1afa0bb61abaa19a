import { ARRIVAL, mapColumnName, type TableConfig } from '../config.ts';
import { UnreadableFileError, UnreadableReason } from './errors.ts';

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
    if (table.version === ARRIVAL && column === table.arrivalColumn) {
      throw new UnreadableFileError(
        UnreadableReason.badHeader,
        `column "${fileColumn}" is the arrival column "${table.arrivalColumn}", which Landfall writes itself`,
        { field: fileColumn },
      );
    }
    if (options.knownColumns && !options.knownColumns.has(column) && column !== table.delete?.column) {
      const mapped = column === fileColumn ? '' : ` (mapped to "${column}")`;
      throw new UnreadableFileError(
        UnreadableReason.unknownColumn,
        `unknown column "${fileColumn}"${mapped}: table "${table.table}" has no such column; map it in the config's "columns" or drop it from the file`,
        { field: fileColumn },
      );
    }
    seen.set(column, fileColumn);
    columns.push(column);
  });
  const keyIndexes = table.conflictKey.map((key) => {
    const index = columns.indexOf(key);
    if (index < 0) {
      throw new UnreadableFileError(
        UnreadableReason.missingColumn,
        `missing conflict key column "${key}" of table "${table.table}"`,
        { field: key },
      );
    }
    return index;
  });
  if (table.version !== ARRIVAL && !columns.includes(table.version)) {
    throw new UnreadableFileError(
      UnreadableReason.missingColumn,
      `missing version column "${table.version}" of table "${table.table}"`,
      { field: table.version },
    );
  }
  return { columns, keyIndexes };
}
