import { z } from 'zod';

/**
 * The snapshot rule's part of the table config: `"mode": "snapshot"` with `"scope"`, what happens
 * to the rows a snapshot no longer holds (`"missing"`), and which files of the table are not
 * snapshots (`"incrementalPrefix"`). config.ts plugs these fields into its table schema and calls
 * `snapshotProblems` for the checks across fields.
 */

/** A removal is held when it would remove more than this share of a scope's stored rows. */
export const DEFAULT_MAX_REMOVED_SHARE = 0.5;

const columnName = z.string().min(1, 'must not be empty').max(63, 'is longer than PostgreSQL allows (63 bytes)');

export const missingSchema = z.strictObject({
  /** Soft delete: the column set to the snapshot file's time instead of deleting the row. */
  softDelete: columnName.optional(),
  /** Hold the removal (`landfall snapshot confirm FILE` goes ahead) above this share of a scope's stored rows. */
  maxRemovedShare: z.number().min(0, 'must be from 0 to 1').max(1, 'must be from 0 to 1').default(DEFAULT_MAX_REMOVED_SHARE),
});

/** The table fields of the snapshot rule, spread into config.ts's table schema. */
export const snapshotFields = {
  /** The columns that name one scope (`["task_pk"]`: each parent; `[]`: the whole table). */
  scope: z.array(columnName).optional(),
  missing: missingSchema.optional(),
  /** Files under this prefix (inside the table's) are applied as plain upserts: they remove nothing. */
  incrementalPrefix: z.string().min(1, 'must not be empty').optional(),
};

/** The fields of a parsed table entry the snapshot checks read. */
interface SnapshotFieldsOf {
  table: string;
  mode: 'upsert' | 'insert' | 'snapshot';
  conflictKey: string[];
  version: string;
  arrivalColumn: string;
  delete?: { column: string } | undefined;
  scope?: string[] | undefined;
  missing?: { softDelete?: string | undefined; maxRemovedShare: number } | undefined;
  incrementalPrefix?: string | undefined;
}

/** A snapshot table's rule, as the consumer and the CLI use it. */
export interface SnapshotRule {
  /** Scope columns; empty: the whole table is one scope. */
  scope: string[];
  /** The soft-delete column, or null: rows are deleted. */
  softDelete: string | null;
  maxRemovedShare: number;
  incrementalPrefix: string | null;
}

/** The snapshot rule of a table, or null when its mode is not `snapshot`. */
export function snapshotRuleOf(table: SnapshotFieldsOf): SnapshotRule | null {
  if (table.mode !== 'snapshot') return null;
  return {
    scope: [...(table.scope ?? [])],
    softDelete: table.missing?.softDelete ?? null,
    maxRemovedShare: table.missing?.maxRemovedShare ?? DEFAULT_MAX_REMOVED_SHARE,
    incrementalPrefix: table.incrementalPrefix ?? null,
  };
}

/** True when a file of the table is a snapshot: the table's mode is `snapshot` and the key is not under `incrementalPrefix`. */
export function isSnapshotFile(table: SnapshotFieldsOf, key: string): boolean {
  const rule = snapshotRuleOf(table);
  return rule !== null && !(rule.incrementalPrefix !== null && key.startsWith(rule.incrementalPrefix));
}

/** How rows are written: a snapshot table upserts (its removal is a separate step). */
export function writeModeOf(table: Pick<SnapshotFieldsOf, 'mode'>): 'upsert' | 'insert' {
  return table.mode === 'insert' ? 'insert' : 'upsert';
}

/**
 * The checks across fields of the snapshot rule, as `table "x": field: message` lines: fields
 * that only mean something for a snapshot, a snapshot without a scope, a scope in which nothing
 * could ever be missing, and a soft-delete column that another rule already owns.
 */
export function snapshotProblems(t: SnapshotFieldsOf, prefix: string): string[] {
  const problems: string[] = [];
  const at = (field: string, message: string) => problems.push(`table "${t.table}": ${field}: ${message}`);
  if (t.mode !== 'snapshot') {
    for (const field of ['scope', 'missing', 'incrementalPrefix'] as const) {
      if (t[field] !== undefined) at(field, `only means something with "mode": "snapshot" (mode is "${t.mode}")`);
    }
    return problems;
  }
  if (t.scope === undefined) {
    at(
      'scope',
      '"mode": "snapshot" needs a scope: [] for the whole table, or the columns that name one scope (e.g. ["task_pk"]: each parent the file names); ' +
        'every stored row of a scope the file covers whose key the file does not hold is removed',
    );
  } else {
    if (new Set(t.scope).size !== t.scope.length) at('scope', 'lists a column twice');
    if (t.scope.length > 0 && t.conflictKey.every((k) => t.scope!.includes(k))) {
      at('scope', `holds the whole conflict key (${t.conflictKey.join(', ')}): every key would be a scope of its own, so nothing could ever be missing from one; use "mode": "upsert", or fewer scope columns`);
    }
  }
  const soft = t.missing?.softDelete;
  if (soft !== undefined) {
    const owner =
      t.conflictKey.includes(soft) ? 'part of the conflict key'
      : t.scope?.includes(soft) ? 'a scope column'
      : soft === t.version ? 'the version column'
      : soft === t.arrivalColumn ? 'the arrival column'
      : soft === t.delete?.column ? 'the delete rule\'s column'
      : null;
    if (owner) at('missing.softDelete', `"${soft}" is ${owner}; the soft-delete column must be a column of its own (e.g. "deleted_at")`);
  }
  if (t.incrementalPrefix !== undefined && (!t.incrementalPrefix.startsWith(prefix) || t.incrementalPrefix === prefix)) {
    at('incrementalPrefix', `"${t.incrementalPrefix}" must be a prefix inside the table's prefix "${prefix}" (e.g. "${prefix}changes/"), so that its files still reach this table`);
  }
  return problems;
}
