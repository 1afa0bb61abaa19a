import type { CatalogColumn, TableCatalog } from './catalog-types.ts';
import type { TableConfig } from './config.ts';
import type { KeyCheck } from './conflict-key.ts';
import { quoteIdent } from './identifiers.ts';
import { ACCUMULATING, type MergeRule, ruleOf } from './merge-rules.ts';
import { writeModeOf } from './snapshot-config.ts';
import { SNAP_ALL, SNAP_ARRIVAL, SNAP_CHUNK, SNAP_FILE, SNAP_STORED, type SnapshotPlan, snapshotPlanOf } from './snapshot-plan.ts';
import { TOMB_ARRIVAL, TOMB_DELETED_AT, TOMB_VERSION, tombstoneRelationOf } from './tombstone-names.ts';

/** Internal column names of the statement; a table column with one of these names is refused. */
export const ORDINAL = 'landfall$ord';
export const ROW_NUMBER = 'landfall$row';
export const TOMBSTONE = 'landfall$tomb';
/** The row's arrival inside the statement when the table has no arrival column of its own. */
export const ROW_ARRIVAL = TOMB_ARRIVAL;
const RESERVED = [ORDINAL, ROW_NUMBER, TOMBSTONE, ROW_ARRIVAL, TOMB_VERSION, TOMB_DELETED_AT, SNAP_FILE, SNAP_ARRIVAL, SNAP_CHUNK, SNAP_ALL, SNAP_STORED];
const INTERNAL_PREFIX = 'landfall$';

/** Types that have no equality operator: compared as text when looking for changes. */
const COMPARE_AS_TEXT = new Set(['json', '_json', 'xml', '_xml', 'point', 'line', 'lseg', 'path', 'polygon', 'box', 'circle']);

export interface PlanColumn {
  name: string;
  /** Cast target from the catalog (the column type without modifier; assignment applies it). */
  type: string;
  /** Position of the column's value array in the batch. */
  input: number;
  /** Element type of the array the values are bound as (`$n::<param>[]`). */
  param: string;
  /** A cast applied per row after unnest, or null. */
  cast: string | null;
  /**
   * The key column's nondeterministic collation (quoted), applied before the reduction so that
   * keys equal under it (`'A'`/`'a'` case-insensitively) collapse there instead of raising 21000.
   */
  collate?: string;
}

/** Types whose modifier rounds (numeric scale, fractional seconds) the same on cast as on assignment. */
const ROUNDING_TYPES = new Set(['numeric', 'timestamp', 'timestamptz', 'time', 'timetz', 'interval']);

/**
 * Everything needed to apply batches of one column set to one table, as plain data. The SQL
 * is compiled from it in one place (compile-upsert.ts); tests check the plan first.
 */
export interface UpsertPlan {
  table: string;
  /** Quoted, schema-qualified target. */
  target: string;
  mode: 'upsert' | 'insert';
  /** Batch columns that are table columns, cast to their types. */
  columns: PlanColumn[];
  key: string[];
  version: PlanColumn | null;
  /** The table's arrival column: set to the row's arrival on every write, compared on ties. */
  arrivalColumn: string | null;
  /**
   * The table's delete rule, present whenever the config has one (DESIGN.md rule 6 holds for
   * every batch): the tombstone input (a batch column that need not exist in the table; null
   * when the batch does not carry it, so none of its rows is a tombstone but remembered deletes
   * still apply), and the quoted table in the `landfall` schema where deletes are remembered
   * (tombstones.ts).
   */
  tombstone: { input: number | null; equals: string; remembered: string } | null;
  /** Columns set on conflict (non-key batch columns, plus the arrival column). */
  updateColumns: string[];
  /**
   * Columns compared to tell "unchanged" from "updated"; `asText` for types without `=`, and for
   * json and xml a `canonical` form, so that the same value spelled differently is unchanged.
   */
  compareColumns: { name: string; asText: boolean; canonical?: 'json' | 'xml' }[];
  /** Number of value arrays the batch carries (all its columns). */
  inputCount: number;
  /** The arbiter index treats NULL keys as equal (NULLS NOT DISTINCT). */
  nullsEqual: boolean;
  /**
   * Key columns compared as another type: a domain over an enum as the enum (PostgreSQL finds
   * no `=` for a domain over an enum, whose equality is the polymorphic `anyenum = anyenum`).
   */
  keyCasts?: Record<string, string>;
  /** Merge rules other than `replace` of the batch's columns (merge-rules.ts), by column name. */
  rules: Record<string, MergeRule>;
  /**
   * Batch columns with absent values in the rows applied (BatchData.absent; not the key, the
   * version or the tombstone column, whose absent values are NULL): each travels with a flag
   * array; an absent value leaves the stored column alone on update and writes `defaultExpr`
   * (the column's default, null for none) on insert.
   */
  absent: { name: string; input: number; defaultExpr: string | null }[];
  /**
   * What the merge form needs to know of each non-key batch column: its default as SQL (written
   * on insert when no row gives the column a value), NOT NULL (the row ON CONFLICT proposes must
   * hold a value even when it ends as an update), and whether a CHECK constraint reads it (an
   * accumulating column's proposed row then holds the result, not the delta).
   */
  facts: Record<string, { defaultExpr: string | null; notNull: boolean; checked: boolean }>;
  /** `"mode": "snapshot"`: rows older than their scope's newest snapshot are stale; the soft-delete column (snapshot-plan.ts). */
  snapshot: SnapshotPlan | null;
}

/**
 * True when the plan compiles to the merge form of the statement (merge rules, or absent values,
 * in mode `upsert`): a reduction that picks each column's value by its rule instead of taking the
 * winning row whole. Other plans compile to the plain form, unchanged.
 */
export function mergesColumns(plan: UpsertPlan): boolean {
  return plan.mode === 'upsert' && (Object.keys(plan.rules).length > 0 || plan.absent.length > 0);
}

/** True when some column accumulates (`add`, `max`, `min`): every applied row counts, whatever its version. */
export function accumulates(plan: UpsertPlan): boolean {
  return Object.values(plan.rules).some((rule) => ACCUMULATING.has(rule));
}

export class BatchShapeError extends Error {
  override name = 'BatchShapeError';
  readonly table: string;
  readonly column: string | null;
  constructor(table: string, column: string | null, message: string, options?: ErrorOptions) {
    super(`table "${table}": ${message}`, options);
    this.table = table;
    this.column = column;
  }
}

/**
 * How a column's values are bound. An array column travels as text (an array of arrays would be
 * flattened by unnest) and is cast per row. A key or version column of a rounding type is cast
 * to its full type before the reduction, so `1.001` and `1.004` in a numeric(10,2) key are one
 * key to DISTINCT ON as they are to the unique index; so is an accumulating column (`add`,
 * `max`, `min`), whose rows are combined before the assignment would round them. A jsonb column
 * travels as text and is cast per row too: PostgreSQL's array input parses jsonb elements about
 * three times slower than jsonb's own input does (50,000 small documents: 184 ms as `jsonb[]`,
 * 76 ms as `text[]` cast per row; the same values, the same errors). Others are parsed straight
 * into their type.
 */
function bindingOf(column: CatalogColumn, roundEach: boolean): Pick<PlanColumn, 'param' | 'cast'> {
  if (column.castType.endsWith('[]') || column.baseType === 'jsonb') return { param: 'text', cast: column.castType };
  if (roundEach && column.type !== column.castType && ROUNDING_TYPES.has(column.baseType)) return { param: column.castType, cast: column.type };
  return { param: column.castType, cast: null };
}

/**
 * Plans the set-based apply of batches carrying `columns` (table column names, in batch order).
 * A column the table does not have, a generated column, or a missing key or version column is
 * an error that names it; the tombstone column alone may be absent from the table.
 */
export function buildUpsertPlan(config: TableConfig, catalog: TableCatalog, keyCheck: KeyCheck, columns: readonly string[], absentColumns: readonly string[] = []): UpsertPlan {
  const byName = new Map<string, CatalogColumn>(catalog.columns.map((c) => [c.name, c]));
  for (const reserved of RESERVED) {
    if (byName.has(reserved)) throw new BatchShapeError(config.table, reserved, `column name "${reserved}" is reserved by Landfall`);
  }
  // The merge form names its own columns `landfall$…` too (compile-upsert.ts).
  const internal = [...byName.keys()].find((name) => name.startsWith(INTERNAL_PREFIX));
  if (internal) throw new BatchShapeError(config.table, internal, `column name "${internal}" is reserved by Landfall (names starting with "${INTERNAL_PREFIX}")`);
  const seen = new Set<string>();
  const planColumns: PlanColumn[] = [];
  // Rounded per row: key and version (as the index and the guard see them), and accumulating
  // columns, whose rows are summed or compared before the assignment would round them (each delta
  // counts as it would if applied alone).
  const roundEach = new Set([
    ...config.conflictKey,
    ...(keyCheck.versionColumn ? [keyCheck.versionColumn.name] : []),
    ...Object.keys(config.merge ?? {}).filter((c) => ACCUMULATING.has(ruleOf(config, c))),
  ]);
  let tombstone: UpsertPlan['tombstone'] = config.delete ? { input: null, equals: config.delete.equals, remembered: tombstoneRelationOf(catalog.table).quoted } : null;
  columns.forEach((name, input) => {
    if (seen.has(name)) throw new BatchShapeError(config.table, name, `column "${name}" appears twice in the file`);
    seen.add(name);
    const isTombstone = config.delete?.column === name;
    if (isTombstone) tombstone = { ...tombstone!, input };
    const column = byName.get(name);
    if (!column) {
      if (isTombstone) return;
      throw new BatchShapeError(config.table, name, `column "${name}" does not exist in ${catalog.table.schema}.${catalog.table.name} (map it with "columns" in the config, or remove it from the file)`);
    }
    if (column.generated) throw new BatchShapeError(config.table, name, `column "${name}" is generated and cannot be written`);
    if (name === keyCheck.arrivalColumn?.name) {
      throw new BatchShapeError(config.table, name, `column "${name}" is Landfall's arrival column; files must not carry it`);
    }
    const collation = config.conflictKey.includes(name) && column.collation && !column.collation.deterministic ? column.collation : null;
    planColumns.push({
      name,
      type: column.castType,
      input,
      ...bindingOf(column, roundEach.has(name)),
      ...(collation ? { collate: `${quoteIdent(collation.schema)}.${quoteIdent(collation.name)}` } : {}),
    });
  });
  for (const key of config.conflictKey) {
    if (!seen.has(key)) throw new BatchShapeError(config.table, key, `the file has no column "${key}" of the conflict key`);
  }
  let version: PlanColumn | null = null;
  if (keyCheck.versionColumn) {
    version = planColumns.find((c) => c.name === keyCheck.versionColumn!.name) ?? null;
    if (!version) throw new BatchShapeError(config.table, keyCheck.versionColumn.name, `the file has no version column "${keyCheck.versionColumn.name}"`);
  }
  const snapshot = snapshotPlanOf(config, catalog, columns);
  if (snapshot.misfit) throw new BatchShapeError(config.table, snapshot.misfit.column, snapshot.misfit.message);
  const keySet = new Set(config.conflictKey);
  const nonKey = planColumns.filter((c) => !keySet.has(c.name));
  const arrivalColumn = keyCheck.arrivalColumn?.name ?? null;
  const keyCasts = keyCastsOf(config, catalog);
  const rules: Record<string, MergeRule> = {};
  for (const c of nonKey) {
    const rule = ruleOf(config, c.name);
    if (rule !== 'replace' && c.name !== version?.name) rules[c.name] = rule;
  }
  const absent = nonKey
    .filter((c) => c.name !== version?.name && absentColumns.includes(c.name))
    .map((c) => ({ name: c.name, input: c.input, defaultExpr: byName.get(c.name)!.defaultExpr ?? null }));
  return {
    table: config.table,
    target: catalog.quoted,
    mode: writeModeOf(config),
    columns: planColumns,
    key: [...config.conflictKey],
    version,
    arrivalColumn,
    tombstone,
    updateColumns: [...nonKey.map((c) => c.name), ...(arrivalColumn ? [arrivalColumn] : [])],
    compareColumns: nonKey.map((c) => {
      const base = byName.get(c.name)!.baseType;
      const canonical = base === 'json' ? 'json' : base === 'xml' ? 'xml' : null;
      return { name: c.name, asText: COMPARE_AS_TEXT.has(base), ...(canonical ? { canonical } : {}) };
    }),
    inputCount: columns.length,
    nullsEqual: keyCheck.index.nullsNotDistinct,
    rules,
    absent,
    facts: Object.fromEntries(
      nonKey.map((c) => {
        const column = byName.get(c.name)!;
        return [c.name, { defaultExpr: column.defaultExpr ?? null, notNull: column.notNull, checked: column.checked ?? false }];
      }),
    ),
    ...(Object.keys(keyCasts).length ? { keyCasts } : {}),
    snapshot: snapshot.plan,
  };
}

/** Key columns compared as another type (`UpsertPlan.keyCasts`): a domain over an enum as the enum. */
export function keyCastsOf(config: Pick<TableConfig, 'conflictKey'>, catalog: TableCatalog): Record<string, string> {
  const byName = new Map<string, CatalogColumn>(catalog.columns.map((c) => [c.name, c]));
  return Object.fromEntries(
    config.conflictKey.flatMap((k) => {
      const c = byName.get(k)!;
      return c.baseFormat && c.category === 'E' ? [[k, c.baseFormat]] : [];
    }),
  );
}

/**
 * Rows whose conflict key has a NULL, when the arbiter index would let such rows pile up as
 * duplicates: returned as row indexes so the engine quarantines them instead of storing them.
 * A raw NULL is exactly a NULL after the cast, so this needs no database.
 */
export function findNullKeyRows(plan: UpsertPlan, values: readonly (readonly (string | null)[])[]): number[] {
  if (plan.nullsEqual) return [];
  const keyInputs = plan.columns.filter((c) => plan.key.includes(c.name)).map((c) => values[c.input]!);
  const rows = keyInputs[0]?.length ?? 0;
  const found: number[] = [];
  for (let r = 0; r < rows; r++) if (keyInputs.some((column) => column[r] === null)) found.push(r);
  return found;
}
