import type { CatalogColumn, PartitionedLevel, TableCatalog, UniqueIndex } from '../../core/catalog-types.ts';
import { ARRIVAL, type TableConfig } from '../../core/config.ts';
import { snapshotTableProblems } from '../../core/snapshot-check.ts';
import { addArrivalColumnStatement, createIndexStatement, indexMismatch, partitionKeyError } from '../../core/conflict-key.ts';
import { quoteIdent } from '../../core/identifiers.ts';
import { canonicalizerFor } from '../../core/canonical-key.ts';

/** What doctor checks for one table: a configured table, or `--table T --key a,b`. */
export interface DoctorTarget {
  /** As configured (or given): `orders`, `sales.orders`. */
  table: string;
  key: string[];
  /** A column name or `$arrival`. */
  version: string;
  mode: 'upsert' | 'insert' | 'snapshot';
  arrivalColumn: string;
  /** A configured snapshot table's config, for the snapshot checks (snapshot-check.ts). */
  config?: TableConfig;
}

export const Severity = { ok: 'ok', info: 'info', warning: 'warning', error: 'error' } as const;
export type Severity = (typeof Severity)[keyof typeof Severity];

export interface CheckResult {
  check: string;
  severity: Severity;
  message: string;
  /** Exact statements or commands that fix it, in order. */
  fix: string[];
}

export interface DuplicateCount {
  /** False when only the planner's estimate is known (large table, `--estimate-only`, timeout). */
  exact: boolean;
  /** Groups of rows sharing a key with no NULL in it, and the rows beyond one per group. */
  groups: number;
  surplus: number;
  /** The same for keys with a NULL (duplicates only under NULLS NOT DISTINCT). */
  nullGroups: number;
  nullSurplus: number;
  /** Planner estimate, when it was taken: live rows and distinct keys. */
  estimate: { rows: number; distinctKeys: number } | null;
  /** The table's rows, counted by the same scan (null when only estimated). */
  rows?: number | null;
}

/** A partitioned table's partitions and what its default partitions hold (doctor gathers it). */
export interface PartitionReport {
  /** Every partition of the tree below the target, in tree order. */
  partitions: { name: string; parent: string; level: number; bound: string; leaf: boolean }[];
  /** Default partitions holding rows: how many (counted up to a cap) and the parent's partition key range among them. */
  defaults: { name: string; parent: string; rows: number; capped: boolean; range: { column: string; min: string | null; max: string | null }[] }[];
}

export const TableStatus = { healthy: 'healthy', findings: 'findings', unchecked: 'unchecked' } as const;
export type TableStatus = (typeof TableStatus)[keyof typeof TableStatus];

export interface TableReport {
  table: string;
  key: string[];
  status: TableStatus;
  checks: CheckResult[];
  duplicates: DuplicateCount | null;
  /** Why the table could not be checked (status `unchecked`). */
  error: string | null;
}

/** Version types compared the way a version should be (numbers, times). */
const ORDERED_VERSION_TYPES = new Set(['int2', 'int4', 'int8', 'numeric', 'timestamp', 'timestamptz', 'date', 'xid8', 'pg_lsn']);
/** Orderable, but the order is unlikely to be the intended one. */
const DUBIOUS_VERSION_TYPES: Record<string, string> = {
  text: 'compared as text ("10" < "9")',
  varchar: 'compared as text ("10" < "9")',
  bpchar: 'compared as text ("10" < "9")',
  float4: 'floating point: equal-looking versions may compare unequal',
  float8: 'floating point: equal-looking versions may compare unequal',
  uuid: 'uuids order by their bytes, which is time order only for UUIDv7',
  bool: 'only two versions exist',
  time: 'wraps around at midnight',
  timetz: 'wraps around at midnight',
};

const shellWord = (s: string) => (/^[A-Za-z0-9_.,:/=-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`);

/** The `landfall dedupe` command line for a target, with a keep rule that fits the table. */
export function dedupeCommand(target: DoctorTarget, catalog: TableCatalog): string {
  const has = (c: string) => catalog.columns.some((x) => x.name === c);
  const keep =
    target.version !== ARRIVAL && has(target.version)
      ? `version:${target.version}`
      : has(target.arrivalColumn)
        ? `newest:${target.arrivalColumn}`
        : 'any';
  return `landfall dedupe ${shellWord(target.table)} --key ${shellWord(target.key.join(','))} --keep ${shellWord(keep)}`;
}

const effectiveDuplicates = (d: DuplicateCount, nullsNotDistinct: boolean) => ({
  groups: d.groups + (nullsNotDistinct ? d.nullGroups : 0),
  surplus: d.surplus + (nullsNotDistinct ? d.nullSurplus : 0),
});

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/**
 * Every check of one table, from its catalog and duplicate count (null when the table is
 * missing or the count was not possible). Pure: the adapter gathers the inputs.
 */
export function diagnoseTable(target: DoctorTarget, catalog: TableCatalog | null, duplicates: DuplicateCount | null, partitions: PartitionReport | null = null): TableReport {
  const checks: CheckResult[] = [];
  const add = (check: string, severity: Severity, message: string, fix: string[] = []) => checks.push({ check, severity, message, fix });
  const report = (): TableReport => ({
    table: target.table,
    key: target.key,
    status: checks.some((c) => c.severity === 'error' || c.severity === 'warning') ? 'findings' : 'healthy',
    checks,
    duplicates,
    error: null,
  });
  if (!catalog) {
    add('table', 'error', 'does not exist (or this user cannot see it)', [`-- create the table, or fix "table" in the config`]);
    return report();
  }
  // Counted when the duplicates were (a scan); else the planner's estimate, which is -1 before
  // the first ANALYZE and may be far off after a load: said so, with the command that refreshes it.
  const rows =
    typeof duplicates?.rows === 'number'
      ? `${fmt(duplicates.rows)} rows`
      : catalog.estimatedRows < 0
        ? `rows not counted, and not estimated yet (ANALYZE ${catalog.quoted} gives the planner an estimate)`
        : `~${fmt(catalog.estimatedRows)} rows by the planner's estimate, not counted (ANALYZE ${catalog.quoted} refreshes it)`;
  add('table', 'ok', `${catalog.table.schema}.${catalog.table.name}, ${rows}`);
  const byName = new Map(catalog.columns.map((c) => [c.name, c]));
  const missing = target.key.filter((k) => !byName.has(k));
  if (missing.length) {
    add('key columns', 'error', `${missing.map((m) => `"${m}"`).join(', ')} not in the table`);
    return report();
  }
  const keyColumns = target.key.map((k) => byName.get(k)!);
  const nullable = keyColumns.filter((c) => !c.notNull);
  add('key columns', 'ok', `(${target.key.join(', ')})`);

  const serving = pickServingIndex(catalog.uniqueIndexes, target.key);
  const nullsNotDistinct = serving ? serving.nullsNotDistinct : nullable.length > 0;
  const dup = duplicates ? effectiveDuplicates(duplicates, nullsNotDistinct) : null;
  const dedupe = dedupeCommand(target, catalog);
  const invalid = catalog.uniqueIndexes.find((ix) => !ix.valid && indexMismatch({ ...ix, valid: true }, target.key) === null);

  const partitionError = serving ? null : partitionKeyError(target.table, catalog, target.key);
  if (serving) {
    add('unique index', 'ok', `"${serving.name}"${serving.constraint ? ` (constraint ${serving.constraint})` : ''}`);
  } else if (partitionError) {
    add('unique index', 'error', partitionError.reason, partitionError.fix ? [`-- ${partitionError.fix}`] : []);
  } else {
    const others = catalog.uniqueIndexes.map((ix) => `"${ix.name}" ${indexMismatch(ix, target.key)}`);
    const fix: string[] = [];
    if (invalid) fix.push(`DROP INDEX CONCURRENTLY ${quoteIdent(catalog.table.schema)}.${quoteIdent(invalid.name)};`);
    if (catalog.partitioning?.length && (!dup || dup.groups > 0)) fix.push(`-- remove the duplicates first (landfall dedupe works on a plain table: run it on each partition), then:`, createIndexStatement(catalog, target.key, nullable.length > 0));
    else if (!dup || dup.groups > 0) fix.push(`${dedupe}   # removes the duplicates (with a backup) and creates the index`);
    else fix.push(createIndexStatement(catalog, target.key, nullable.length > 0));
    add(
      'unique index',
      'error',
      `none matches (${target.key.join(', ')}): ON CONFLICT cannot find the stored row, every re-delivery adds a duplicate` +
        (others.length ? `; found: ${others.join('; ')}` : '; the table has no unique index'),
      fix,
    );
  }

  if (nullable.length === 0) add('NULL keys', 'ok', 'key columns are NOT NULL');
  else if (serving?.nullsNotDistinct) add('NULL keys', 'ok', `"${serving.name}" is NULLS NOT DISTINCT`);
  else if (serving) {
    add(
      'NULL keys',
      'warning',
      `${nullable.map((c) => `"${c.name}"`).join(', ')} nullable and "${serving.name}" is not NULLS NOT DISTINCT: rows with a NULL key are quarantined`,
      [
        ...nullable.map((c) => `ALTER TABLE ${catalog.quoted} ALTER COLUMN ${quoteIdent(c.name)} SET NOT NULL;`),
        `-- or, to store NULL keys as one key: ${createIndexStatement(catalog, target.key, true)}`,
      ],
    );
  } else {
    add('NULL keys', 'info', `${nullable.map((c) => `"${c.name}"`).join(', ')} nullable: the fix above creates the index NULLS NOT DISTINCT`);
  }

  checkVersion(target, byName, add);
  checkArrival(target, catalog, byName, add);
  for (const p of target.config ? snapshotTableProblems(target.config, catalog) : []) add('snapshot', 'error', p.reason, [p.fix]);
  checkPartitioning(target, catalog, keyColumns, add);
  checkPartitions(catalog, partitions, add);

  if (!duplicates || !dup) {
    add('duplicates', 'warning', 'not counted');
  } else {
    const how = duplicates.exact ? '' : ' (planner estimate, not exact)';
    if (dup.groups > 0) {
      // Without the index the unique-index fix already is the dedupe command.
      add('duplicates', 'error', `${fmt(dup.groups)} key(s) stored more than once, ${fmt(dup.surplus)} surplus row(s)${how}`, serving ? [dedupe] : []);
    } else if (!duplicates.exact) {
      add('duplicates', 'warning', `none estimated, not counted exactly${duplicates.estimate ? ` (~${fmt(duplicates.estimate.rows)} rows)` : ''}`);
    } else {
      add('duplicates', 'ok', 'none');
    }
    if (!nullsNotDistinct && duplicates.nullGroups > 0) {
      add('duplicates', 'info', `${fmt(duplicates.nullGroups)} key(s) with a NULL stored more than once (${fmt(duplicates.nullSurplus)} surplus); not duplicates while NULLs are distinct`);
    }
  }

  const arbiter = serving?.name;
  for (const ix of catalog.uniqueIndexes) {
    if (ix.name === arbiter || (!serving && ix === invalid)) continue;
    if (!ix.valid) {
      add('other indexes', 'warning', `"${ix.name}" is invalid (a failed CREATE INDEX CONCURRENTLY?): it slows every write and enforces nothing reliably`, [
        `DROP INDEX CONCURRENTLY ${quoteIdent(catalog.table.schema)}.${quoteIdent(ix.name)};`,
      ]);
    } else if (ix.partial || ix.expression) {
      add(
        'other indexes',
        'warning',
        `unique "${ix.name}" ${ix.partial ? 'is partial' : 'is on an expression'}: ON CONFLICT (${target.key.join(', ')}) cannot use it, and a row it rejects fails the whole batch (23505)`,
      );
    } else if (!ix.primary) {
      const defaulted = ix.columns.every((c) => byName.get(c)?.hasDefault);
      if (!defaulted) add('other indexes', 'info', `unique "${ix.name}" on (${ix.columns.join(', ')}) also rejects rows: a clash there fails the batch (23505)`);
    }
  }
  return report();
}

/** The index ON CONFLICT would use: primary key first, then a constraint, then any. */
function pickServingIndex(indexes: UniqueIndex[], key: string[]): UniqueIndex | undefined {
  const matches = indexes.filter((ix) => indexMismatch(ix, key) === null);
  return matches.find((ix) => ix.primary) ?? matches.find((ix) => ix.constraint) ?? matches[0];
}

type Add = (check: string, severity: Severity, message: string, fix?: string[]) => void;

function checkVersion(target: DoctorTarget, byName: Map<string, CatalogColumn>, add: Add) {
  if (target.version === ARRIVAL) {
    add('version', 'ok', 'arrival order ($arrival)');
    return;
  }
  const column = byName.get(target.version);
  if (!column) {
    add('version', 'error', `column "${target.version}" does not exist`, [`-- use an existing column, or "version": "${ARRIVAL}"`]);
    return;
  }
  if (ORDERED_VERSION_TYPES.has(column.baseType)) add('version', 'ok', `"${column.name}" ${column.type}`);
  else if (DUBIOUS_VERSION_TYPES[column.baseType]) add('version', 'warning', `"${column.name}" is ${column.type}: ${DUBIOUS_VERSION_TYPES[column.baseType]}`);
  else add('version', 'error', `"${column.name}" is ${column.type}, which has no useful order for "larger version wins"`);
}

function checkArrival(target: DoctorTarget, catalog: TableCatalog, byName: Map<string, CatalogColumn>, add: Add) {
  if (target.mode === 'insert') {
    add('arrival column', 'ok', 'not needed (insert mode)');
    return;
  }
  const column = byName.get(target.arrivalColumn);
  if (!column) {
    add(
      'arrival column',
      'warning',
      `no "${target.arrivalColumn}": ties go to the later application, so a late redelivery could win a tie`,
      [addArrivalColumnStatement(catalog, target.arrivalColumn)],
    );
  } else if (column.baseType !== 'text') {
    add('arrival column', 'warning', `"${column.name}" is ${column.type}; the engine writes text (COLLATE "C")`);
  } else {
    add('arrival column', 'ok', `"${column.name}"`);
  }
}

/**
 * Whether every key column's values are partitioned on a form that equals PostgreSQL's equality
 * (so one key never spans two FIFO groups). Where not, equal keys spelled differently may be
 * applied in either order; the arrival column still decides their ties.
 */
function checkPartitioning(target: DoctorTarget, catalog: TableCatalog, keyColumns: CatalogColumn[], add: Add) {
  const notes = keyColumns.map((c) => ({ column: c, c: canonicalizerFor({ ...c, category: c.category ?? null, collation: c.collation ?? null }, catalog.timeZone ?? 'UTC') }));
  const inexact = notes.filter((n) => !n.c.exact);
  if (inexact.length === 0) {
    add('key partitioning', 'ok', notes.map((n) => `"${n.column.name}": ${n.c.note}`).join('; '));
    return;
  }
  const hasArrival = catalog.columns.some((c) => c.name === target.arrivalColumn);
  add(
    'key partitioning',
    'warning',
    `${inexact.map((n) => `"${n.column.name}": ${n.c.note}`).join('; ')}. Write such keys in one spelling` +
      (target.mode !== 'insert' ? (hasArrival ? `; "${target.arrivalColumn}" still decides their ties` : ', or add the arrival column so that ties are decided by arrival') : ''),
    target.mode !== 'insert' && !hasArrival ? [addArrivalColumnStatement(catalog, target.arrivalColumn)] : [],
  );
}

/** A refusal the consumer or replay recorded for a table (landfall.blocked_tables): what `status` and the status page show as blocked. */
export interface RecordedRefusal {
  code: string;
  reason: string;
  fix: string | null;
  firstSeen: string;
  lastSeen: string;
  attempts: number;
}

/**
 * Adds the `blocked` check: the consumer's own verdict on the table, with the same reason and fix
 * that `status` and the status page show, so that doctor never calls healthy a table they call
 * blocked. An error while the refusal is recorded (it clears when a batch of the table applies).
 */
export function withBlockedCheck(report: TableReport, refusal: RecordedRefusal | null): TableReport {
  if (report.status === 'unchecked') return report;
  const ownErrors = report.checks.some((c) => c.severity === 'error');
  const check: CheckResult = refusal
    ? {
        check: 'blocked',
        severity: 'error',
        message:
          `the consumer refuses the table (${refusal.code}, since ${refusal.firstSeen}, ${fmt(refusal.attempts)} refusal(s), last ${refusal.lastSeen}): ${refusal.reason.replace(/\s*\n\s*/g, ' ')}` +
          (ownErrors ? '' : '; the checks above pass now: the next delivery applies and clears it (landfall replay BATCH re-runs a parked one)'),
        fix: refusal.fix ? [refusal.fix] : [],
      }
    : { check: 'blocked', severity: 'ok', message: 'the consumer does not refuse the table', fix: [] };
  const checks = [...report.checks, check];
  return { ...report, checks, status: checks.some((c) => c.severity === 'error' || c.severity === 'warning') ? 'findings' : 'healthy' };
}

const MAX_LISTED_PARTITIONS = 12;

/**
 * A partitioned table: its partitioning and partitions (info), and each default partition that
 * holds rows (warning): rows outside every other partition's bounds, which keep a partition for
 * their values from being added (PostgreSQL scans the default partition when one is added and
 * refuses with 23514 while it holds rows the new one would take).
 */
function checkPartitions(catalog: TableCatalog, report: PartitionReport | null, add: Add) {
  const levels = catalog.partitioning ?? [];
  if (levels.length === 0) return;
  const how = levels.map((l) => `${l.level > 1 ? `${l.table}: ` : ''}${l.strategy} on (${l.expression ? 'an expression' : l.columns.join(', ')})`).join('; ');
  if (!report) {
    add('partitions', 'info', `partitioned: ${how}`);
    return;
  }
  const leaves = report.partitions.filter((p) => p.leaf);
  const listed = leaves.slice(0, MAX_LISTED_PARTITIONS).map((p) => `${p.name} ${p.bound}`);
  const more = leaves.length > listed.length ? `, and ${leaves.length - listed.length} more` : '';
  add(
    'partitions',
    leaves.length === 0 ? 'warning' : 'info',
    `partitioned: ${how}; ${leaves.length} partition(s)${leaves.length ? `: ${listed.join('; ')}${more}` : ': every row would fail with 23514 (no partition of relation found for row) until one is created'}`,
  );
  for (const d of report.defaults) {
    const parentLevel = levels.find((l) => l.table === d.parent);
    const range = d.range.filter((r) => r.min !== null).map((r) => (r.min === r.max ? `${r.column} = ${r.min}` : `${r.column} from ${r.min} to ${r.max}`)).join(', ');
    add(
      'default partition',
      'warning',
      `${d.name} holds ${d.capped ? 'more than ' : ''}${fmt(d.rows)} row(s)${range ? ` (${range})` : ''} that no other partition of ${d.parent} takes: ` +
        `a partition for those values cannot be added while they are there (PostgreSQL refuses: updated partition constraint for default partition would be violated)`,
      defaultPartitionFix(catalog, d, parentLevel),
    );
  }
}

/** How to move a default partition's rows into a new partition; <…> are for the operator to fill in. */
function defaultPartitionFix(catalog: TableCatalog, d: PartitionReport['defaults'][number], level: PartitionedLevel | undefined): string[] {
  if (!level || level.expression) return [`-- move the rows of ${d.name} into partitions of their own (detach it, create the partition, move the rows, attach it again)`];
  const key = level.columns.map(quoteIdent);
  const tuple = key.length > 1 ? `(${key.join(', ')})` : key[0]!;
  const bound = level.strategy === 'list' ? { create: 'FOR VALUES IN (<values>)', where: `${tuple} IN (<values>)` } : { create: 'FOR VALUES FROM (<from>) TO (<to>)', where: `${tuple} >= (<from>) AND ${tuple} < (<to>)` };
  const columns = catalog.columns.filter((c) => !c.generated).map((c) => quoteIdent(c.name)).join(', ');
  return [
    `-- for each partition to add under ${d.parent} (fill in <…>), in one transaction:`,
    `BEGIN;`,
    `ALTER TABLE ${d.parent} DETACH PARTITION ${d.name};`,
    `CREATE TABLE <new partition> PARTITION OF ${d.parent} ${bound.create};`,
    `WITH moved AS (DELETE FROM ${d.name} WHERE ${bound.where} RETURNING ${columns}) INSERT INTO ${d.parent} (${columns}) SELECT ${columns} FROM moved;`,
    `ALTER TABLE ${d.parent} ATTACH PARTITION ${d.name} DEFAULT;`,
    `COMMIT;`,
  ];
}

/** A table that could not be checked (connection lost, permission denied, timeout...). */
export function uncheckedReport(target: DoctorTarget, error: string): TableReport {
  return { table: target.table, key: target.key, status: 'unchecked', checks: [], duplicates: null, error };
}

/** 0 healthy or warnings only, 1 an error to fix, 2 could not check (the worst table decides). */
export function doctorExitCode(reports: readonly TableReport[]): 0 | 1 | 2 {
  if (reports.some((r) => r.status === 'unchecked')) return 2;
  if (reports.some((r) => r.checks.some((c) => c.severity === 'error'))) return 1;
  return 0;
}
