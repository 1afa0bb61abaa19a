import { ARRIVAL, mapColumnName, type TableConfig } from './config.ts';
import { parseTableName, quoteIdent, quoteQualified } from './identifiers.ts';
import { snapshotRuleOf } from './snapshot-config.ts';
import { UnreadableFileError, UnreadableReason } from './read/errors.ts';

export interface ColumnPlan {
  /** Table column of each file column, in file order (after the config's mapping). */
  columns: string[];
  /** Position in `columns` of each conflict key column, in `conflictKey` order (-1: no JSON object carried it yet). */
  keyIndexes: number[];
  /**
   * JSON objects (NDJSON, a JSON array), whose keys are planned one by one as they appear: the
   * keys, in `columns` order, and per key why an object that carries it is refused (null: it is
   * not). Absent for a CSV header or a Parquet schema, which are planned whole.
   */
  objectKeys?: string[];
  refused?: (string | null)[];
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
 * Plans the keys of JSON objects that a file brought since `plan` (null: none yet): each key is
 * checked as a header column would be, but a key that does not fit refuses only the objects that
 * carry it (counted rejects, with the reason), never the file or the other objects. An object
 * must carry every conflict key column and the version column (`refusalOfObject`).
 */
export function planObjectKeys(table: TableConfig, plan: ColumnPlan | null, keys: readonly string[], options: PlanOptions = {}): ColumnPlan {
  const columns = [...(plan?.columns ?? [])];
  const objectKeys = [...(plan?.objectKeys ?? plan?.columns ?? [])];
  const refused = [...(plan?.refused ?? columns.map(() => null))];
  const target = quoteQualified(parseTableName(table.table));
  for (const key of keys.slice(columns.length)) {
    const column = mapColumnName(table, key);
    const named = column === key ? `key "${key}"` : `key "${key}" (mapped to "${column}")`;
    let why: string | null = null;
    if (key.trim() === '') why = 'an empty key names no column';
    else if (Buffer.byteLength(column, 'utf8') > MAX_IDENTIFIER_BYTES) why = `${named} is longer than PostgreSQL allows for a column name (63 bytes)`;
    else if (column === table.arrivalColumn && (table.version === ARRIVAL || options.knownColumns?.has(column))) {
      why = `${named} is the arrival column "${table.arrivalColumn}", which Landfall writes itself`;
    } else if (columns.includes(column) && refused[columns.indexOf(column)] === null) {
      why = `${named} names column "${column}", as key "${objectKeys[columns.indexOf(column)]}" does: map only one of them`;
    } else if (options.knownColumns && !options.evolve && !options.knownColumns.has(column) && column !== table.delete?.column) {
      why =
        `${named}: table "${table.table}" has no such column (schema "strict"). Fix: map it to a table column in the config's "columns", ` +
        `drop it from the objects, add it (ALTER TABLE ${target} ADD COLUMN ${quoteIdent(column)} text), or set "schema": "evolve"`;
    }
    columns.push(column);
    objectKeys.push(key);
    refused.push(why);
  }
  const indexOfUsable = (name: string) => columns.findIndex((c, i) => c === name && refused[i] === null);
  return { columns, keyIndexes: table.conflictKey.map(indexOfUsable), objectKeys, refused };
}

/**
 * Why a JSON object cannot be loaded, or null: it carries a key the plan refuses, or lacks a
 * conflict key column or the version column. `carried(i)`: whether it carries column i.
 */
export function refusalOfObject(table: TableConfig, plan: ColumnPlan, carried: (i: number) => boolean): string | null {
  const refused = plan.refused ?? [];
  for (let i = 0; i < refused.length; i++) if (refused[i] !== null && carried(i)) return refused[i]!;
  const required = table.version === ARRIVAL ? table.conflictKey : [...table.conflictKey, table.version];
  for (const name of required) {
    const i = plan.columns.findIndex((c, k) => c === name && (refused[k] ?? null) === null && carried(k));
    if (i < 0) {
      const what = name === table.version && !table.conflictKey.includes(name) ? 'the version column' : 'conflict key column';
      return `no key for ${what} "${name}" of table "${table.table}": every object must carry it${Object.values(table.columns ?? {}).includes(name) ? ' (or a key the config\'s "columns" maps to it)' : ''}`;
    }
  }
  return null;
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
