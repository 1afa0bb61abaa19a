import { z } from 'zod';
import { parseTableName } from './identifiers.ts';
import { inboxProblems, inboxSchema } from './inbox-lifecycle.ts';
import { checkFormat, DEFAULT_FORMAT, formatFieldsAt, formatSchema } from './format-config.ts';
import { mergeConfigProblems, mergeSchema } from './merge-rules.ts';
import { missingSchema, snapshotFields, snapshotProblems } from './snapshot-config.ts';

/** `version: "$arrival"`: the later arrival (file, then row) wins. */
export const ARRIVAL = '$arrival';
export const DEFAULT_ARRIVAL_COLUMN = '_landfall_arrival';
/** Cassandra's gc_grace_seconds default is the same idea: a delete outlives late replicas of older writes. */
export const DEFAULT_TOMBSTONE_RETENTION_DAYS = 10;

const columnName = z.string().min(1, 'must not be empty').max(63, 'is longer than PostgreSQL allows (63 bytes)');

const deleteSchema = z.strictObject({
  column: columnName,
  equals: z.string(),
  /** How long a delete is remembered against older upserts (DESIGN.md rule 6), in days. */
  retentionDays: z.number().positive('must be more than 0').max(36_500, 'must be at most 36500 (100 years)').default(DEFAULT_TOMBSTONE_RETENTION_DAYS),
});

/**
 * Rows per batch: each batch is one transaction, whose fixed cost (round trips, the COMMIT's
 * flush) 50,000 rows make small next to the rows' own (bench:engine's table by batch size in the
 * README: fresh inserts 0.14x COPY at 1,000, 0.64x at 10,000, 0.87x at 50,000); maxBytes still
 * caps a batch of wide rows.
 */
export const DEFAULT_BATCH_ROWS = 50_000;

const batchSchema = z.strictObject({
  maxRows: z.number().int().min(1).max(1_000_000).default(DEFAULT_BATCH_ROWS),
  maxBytes: z
    .number()
    .int()
    .min(1024)
    .max(256 * 1024 * 1024)
    .default(8 * 1024 * 1024),
});

const tableSchema = z
  .object({
    table: z.string().min(1, 'must not be empty'),
    prefix: z.string().min(1, 'must not be empty').optional(),
    conflictKey: z.array(columnName).min(1, 'needs at least one column'),
    version: z.string().min(1).default(ARRIVAL),
    mode: z.enum(['upsert', 'insert', 'snapshot']).default('upsert'),
    delete: deleteSchema.optional(),
    partitions: z.number().int().min(1).max(1000).default(8),
    columns: z.record(z.string(), columnName).optional(),
    arrivalColumn: columnName.default(DEFAULT_ARRIVAL_COLUMN),
    /** `strict`: a file with a column the table lacks is refused whole; `evolve`: the column is added (nullable). */
    schema: z.enum(['strict', 'evolve']).default('strict'),
    /** What S3 does with the table's files after they arrived (shared/core/inbox-lifecycle.ts); default: kept. */
    inbox: inboxSchema.optional(),
    /** How the table's files are written (shared/core/format-config.ts). */
    format: formatSchema.prefault({}),
    /** Per-column merge rules (merge-rules.ts): column → `replace` | `keep` | `ignoreNull` | `add` | `max` | `min`. */
    merge: mergeSchema.optional(),
    /** `"mode": "snapshot"`: scope, missing, incrementalPrefix (snapshot-config.ts). */
    ...snapshotFields,
  })
  .strict();

const configSchema = z
  .object({
    tables: z.array(tableSchema).min(1, 'needs at least one table'),
    batch: batchSchema.default({ maxRows: DEFAULT_BATCH_ROWS, maxBytes: 8 * 1024 * 1024 }),
  })
  .strict();

export type TableConfig = z.output<typeof tableSchema> & { prefix: string };
/** A table entry as written in the config file (defaults not yet filled in). */
export type TableConfigInput = z.input<typeof tableSchema>;
export interface LandfallConfig {
  tables: TableConfig[];
  batch: { maxRows: number; maxBytes: number };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  /** Where the config came from (a file path or a description). */
  readonly source: string;
  /** Each problem as "table "x": field: message". */
  readonly problems: string[];
  constructor(source: string, problems: string[], options?: ErrorOptions) {
    super(`invalid Landfall config ${source}:\n  - ${problems.join('\n  - ')}`, options);
    this.source = source;
    this.problems = problems;
  }
}

function describePath(input: unknown, path: readonly PropertyKey[]): string {
  if (path[0] === 'tables' && typeof path[1] === 'number') {
    const entry = (input as { tables?: { table?: unknown }[] }).tables?.[path[1]];
    const label = typeof entry?.table === 'string' ? `table "${entry.table}"` : `tables[${path[1]}]`;
    const field = path.slice(2).map(String).join('.');
    return field ? `${label}: ${field}` : label;
  }
  return path.length ? path.map(String).join('.') : '(top level)';
}

/** Edit distance of two short names (case-insensitive), for "did you mean". */
function distance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const current = [i];
    for (let j = 1; j <= y.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[y.length]!;
}

/** The known field a mistyped one most likely meant, if one is close enough. */
export function didYouMean(name: string, known: readonly string[]): string | undefined {
  const ranked = known.map((k) => ({ k, d: distance(name, k) })).sort((a, b) => a.d - b.d);
  const best = ranked[0];
  return best && best.d <= Math.max(2, Math.floor(name.length / 3)) ? best.k : undefined;
}

/** The fields allowed where an unknown one was found (by the issue's path). */
function knownFieldsAt(path: readonly PropertyKey[]): string[] {
  if (path.length === 0) return Object.keys(configSchema.shape);
  if (path[0] === 'batch') return Object.keys(batchSchema.shape);
  if (path[0] === 'tables' && path.length === 2) return Object.keys(tableSchema.shape);
  if (path[0] === 'tables' && path[2] === 'delete') return Object.keys(deleteSchema.shape);
  if (path[0] === 'tables' && path[2] === 'inbox') return Object.keys(inboxSchema.shape);
  if (path[0] === 'tables' && path[2] === 'format') return formatFieldsAt(path.slice(3)) ?? [];
  if (path[0] === 'tables' && path[2] === 'missing') return Object.keys(missingSchema.shape);
  return [];
}

function describeIssue(input: unknown, issue: z.core.$ZodIssue): string[] {
  if (issue.code !== 'unrecognized_keys') return [`${describePath(input, issue.path)}: ${issue.message}`];
  const known = knownFieldsAt(issue.path);
  return issue.keys.map((key) => {
    const guess = didYouMean(key, known);
    return `${describePath(input, issue.path)}: unknown field "${key}"${guess ? ` (did you mean "${guess}"?)` : known.length ? ` (fields: ${known.join(', ')})` : ''}`;
  });
}

/**
 * Validates a parsed config object and reports every problem in one pass (unknown fields with
 * "did you mean", wrong values, and the checks across fields of every table that parsed).
 * Errors name the table and the field: `table "orders": conflictKey: needs at least one column`.
 */
export function parseConfig(input: unknown, source = '(inline)'): LandfallConfig {
  const result = configSchema.safeParse(input);
  const problems: string[] = result.success ? [] : result.error.issues.flatMap((issue) => describeIssue(input, issue));
  const rawTables = (input as { tables?: unknown } | null)?.tables;
  const parsedTables = result.success
    ? result.data.tables
    : (Array.isArray(rawTables) ? rawTables : []).flatMap((t) => {
        const table = tableSchema.safeParse(t);
        return table.success ? [table.data] : [];
      });
  const tables = parsedTables.map((t): TableConfig => {
    try {
      parseTableName(t.table);
    } catch (error) {
      problems.push(`table "${t.table}": table: ${(error as Error).message}`);
    }
    const keys = new Set(t.conflictKey);
    if (keys.size !== t.conflictKey.length) problems.push(`table "${t.table}": conflictKey: lists a column twice`);
    if (t.version !== ARRIVAL && keys.has(t.version)) {
      problems.push(`table "${t.table}": version: "${t.version}" is part of the conflict key; a version must be another column`);
    }
    if (t.delete && keys.has(t.delete.column)) {
      problems.push(`table "${t.table}": delete.column: "${t.delete.column}" is part of the conflict key`);
    }
    if (t.mode === 'insert' && t.delete) {
      problems.push(`table "${t.table}": delete: tombstones need mode "upsert" (insert mode never changes a stored row)`);
    }
    const targets = Object.values(t.columns ?? {});
    if (new Set(targets).size !== targets.length) {
      problems.push(`table "${t.table}": columns: two file columns map to the same table column`);
    }
    for (const problem of inboxProblems(t.inbox)) problems.push(`table "${t.table}": ${problem}`);
    for (const problem of checkFormat(t.format ?? DEFAULT_FORMAT)) problems.push(`table "${t.table}": ${problem}`);
    for (const problem of mergeConfigProblems(t, didYouMean)) problems.push(`table "${t.table}": ${problem}`);
    const prefix = t.prefix ?? `${t.table}/`;
    problems.push(...snapshotProblems(t, prefix));
    return { ...t, prefix };
  });
  const names = new Map<string, number>();
  for (const t of tables) names.set(t.table, (names.get(t.table) ?? 0) + 1);
  for (const [name, count] of names) if (count > 1) problems.push(`table "${name}": table: configured ${count} times`);
  for (const a of tables) {
    for (const b of tables) {
      if (a !== b && b.prefix.startsWith(a.prefix)) {
        problems.push(`table "${b.table}": prefix: "${b.prefix}" overlaps the prefix "${a.prefix}" of table "${a.table}"`);
      }
    }
  }
  if (problems.length || !result.success) throw new ConfigError(source, problems);
  return { tables, batch: result.data.batch };
}

/** The table whose prefix routes this inbox key, or undefined. */
export function findTableForKey(config: LandfallConfig, key: string): TableConfig | undefined {
  return config.tables.find((t) => key.startsWith(t.prefix));
}

/** File column name → table column name, through the optional mapping. */
export function mapColumnName(table: TableConfig, fileColumn: string): string {
  return table.columns?.[fileColumn] ?? fileColumn;
}
