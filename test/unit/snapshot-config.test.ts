import { describe, expect, test } from 'vitest';
import { ConfigError, parseConfig } from '../../shared/core/config.ts';
import { isSnapshotFile, snapshotRuleOf, writeModeOf } from '../../shared/core/snapshot-config.ts';
import { snapshotTableProblems } from '../../shared/core/snapshot-check.ts';
import { snapshotKeysRelationOf, snapshotPlanOf, snapshotScopesRelationOf } from '../../shared/core/snapshot-plan.ts';
import { planColumns } from '../../shared/core/column-plan.ts';
import { diagnoseTable } from '../../shared/tools/doctor/diagnose.ts';
import { targetsFromConfig } from '../../shared/tools/doctor/inspect-table.ts';
import { column, tableCatalog, uniqueIndex } from '../helpers/catalog-factory.ts';

function problemsOf(table: Record<string, unknown>): string[] {
  try {
    parseConfig({ tables: [{ table: 'photos', conflictKey: ['task_pk', 'photo_id'], ...table }] }, 'landfall.json');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

const snapshot = (extra: Record<string, unknown> = {}) => parseConfig({ tables: [{ table: 'photos', conflictKey: ['task_pk', 'photo_id'], mode: 'snapshot', scope: ['task_pk'], ...extra }] }).tables[0]!;

describe('the snapshot rule in the table config', () => {
  test('mode snapshot with a scope: hard delete, maxRemovedShare 0.5, every file a snapshot, rows upserted', () => {
    const t = snapshot();
    expect(snapshotRuleOf(t)).toEqual({ scope: ['task_pk'], softDelete: null, maxRemovedShare: 0.5, incrementalPrefix: null });
    expect(writeModeOf(t)).toBe('upsert');
    expect(isSnapshotFile(t, 'photos/a.csv')).toBe(true);
  });

  test('soft delete, a share and an incremental prefix; the parsed config parses again (the functions get it as JSON)', () => {
    const t = snapshot({ missing: { softDelete: 'deleted_at', maxRemovedShare: 0.2 }, incrementalPrefix: 'photos/changes/' });
    expect(snapshotRuleOf(t)).toEqual({ scope: ['task_pk'], softDelete: 'deleted_at', maxRemovedShare: 0.2, incrementalPrefix: 'photos/changes/' });
    expect(isSnapshotFile(t, 'photos/changes/b.csv')).toBe(false);
    expect(isSnapshotFile(t, 'photos/c.csv')).toBe(true);
    expect(parseConfig(JSON.parse(JSON.stringify({ tables: [t] }))).tables[0]).toEqual(t);
  });

  test('a table in another mode has no snapshot rule, and its files are no snapshots', () => {
    const t = parseConfig({ tables: [{ table: 'photos', conflictKey: ['id'] }] }).tables[0]!;
    expect(snapshotRuleOf(t)).toBeNull();
    expect(isSnapshotFile(t, 'photos/a.csv')).toBe(false);
  });

  test('combinations without a clear meaning are refused, with the reason', () => {
    expect(problemsOf({ mode: 'snapshot' })).toEqual([
      'table "photos": scope: "mode": "snapshot" needs a scope: [] for the whole table, or the columns that name one scope (e.g. ["task_pk"]: each parent the file names); every stored row of a scope the file covers whose key the file does not hold is removed',
    ]);
    expect(problemsOf({ mode: 'insert', scope: ['task_pk'] })).toEqual(['table "photos": scope: only means something with "mode": "snapshot" (mode is "insert")']);
    expect(problemsOf({ missing: { softDelete: 'deleted_at' } })).toEqual(['table "photos": missing: only means something with "mode": "snapshot" (mode is "upsert")']);
    expect(problemsOf({ mode: 'snapshot', scope: ['task_pk', 'photo_id'] })[0]).toMatch(/scope: holds the whole conflict key \(task_pk, photo_id\): every key would be a scope of its own/);
    expect(problemsOf({ mode: 'snapshot', scope: ['task_pk', 'task_pk'] })).toEqual(['table "photos": scope: lists a column twice']);
    expect(problemsOf({ mode: 'snapshot', scope: ['task_pk'], missing: { softDelete: 'task_pk' } })).toEqual([
      'table "photos": missing.softDelete: "task_pk" is part of the conflict key; the soft-delete column must be a column of its own (e.g. "deleted_at")',
    ]);
    expect(problemsOf({ mode: 'snapshot', scope: ['day'], conflictKey: ['id'], version: 'v', missing: { softDelete: 'v' } })[0]).toMatch(/"v" is the version column/);
    expect(problemsOf({ mode: 'snapshot', scope: [], missing: { maxRemovedShare: 1.5 } })).toEqual(['table "photos": missing.maxRemovedShare: must be from 0 to 1']);
    expect(problemsOf({ mode: 'snapshot', scope: [], incrementalPrefix: 'other/' })[0]).toMatch(/incrementalPrefix: "other\/" must be a prefix inside the table's prefix "photos\/"/);
  });

  test('a mistyped field of "missing" gets a guess', () => {
    expect(problemsOf({ mode: 'snapshot', scope: [], missing: { softdelete: 'deleted_at' } })).toEqual([
      'table "photos": missing: unknown field "softdelete" (did you mean "softDelete"?)',
    ]);
    expect(problemsOf({ mode: 'snapshot', scop: [] })).toContain('table "photos": unknown field "scop" (did you mean "scope"?)');
  });
});

describe('what a snapshot table needs of its catalog', () => {
  const columns = [column('task_pk', 'int4'), column('photo_id', 'int4'), column('url'), column('deleted_at', 'timestamptz')];
  const catalogOf = (name: string, cs: typeof columns) => tableCatalog(name, cs, [uniqueIndex(`${name}_pkey`, ['task_pk', 'photo_id'], { primary: true })]);

  test('the arrival column, with the ALTER TABLE that adds it', () => {
    const catalog = catalogOf('photos', columns);
    expect(snapshotTableProblems(snapshot(), catalog)).toEqual([
      {
        reason: expect.stringContaining('"mode": "snapshot" needs the arrival column "_landfall_arrival"'),
        fix: 'ALTER TABLE "public"."photos" ADD COLUMN "_landfall_arrival" text COLLATE "C";',
      },
    ]);
  });

  test('doctor (and so the start-up of run and dev) reports it as an error with the fix', () => {
    const config = parseConfig({ tables: [snapshot()] });
    const report = diagnoseTable(targetsFromConfig(config)[0]!, catalogOf('photos', columns), null);
    expect(report.checks.find((c) => c.check === 'snapshot')).toEqual({
      check: 'snapshot',
      severity: 'error',
      message: expect.stringContaining('needs the arrival column'),
      fix: ['ALTER TABLE "public"."photos" ADD COLUMN "_landfall_arrival" text COLLATE "C";'],
    });
  });

  test('scope and soft-delete columns that exist, the latter a nullable time', () => {
    const catalog = catalogOf('photos', [...columns, column('_landfall_arrival'), column('gone', 'bool', { type: 'boolean' })]);
    expect(snapshotTableProblems(snapshot({ missing: { softDelete: 'deleted_at' } }), catalog)).toEqual([]);
    expect(snapshotTableProblems(snapshot({ scope: ['tenant'] }), catalog).map((p) => p.reason)).toEqual(['scope column(s) "tenant" do not exist in public.photos']);
    expect(snapshotTableProblems(snapshot({ missing: { softDelete: 'gone' } }), catalog).map((p) => p.reason)[0]).toMatch(/"gone" is boolean; it is set to the snapshot file's time/);
    expect(snapshotTableProblems(snapshot({ missing: { softDelete: 'removed_at' } }), catalog)[0]!.fix).toBe('ALTER TABLE "public"."photos" ADD COLUMN "removed_at" timestamptz;');
  });

  test('a file must carry the scope columns and must not carry the soft-delete column', () => {
    const t = snapshot({ missing: { softDelete: 'deleted_at' } });
    const catalog = catalogOf('photos', columns);
    expect(snapshotPlanOf(t, catalog, ['task_pk', 'photo_id', 'url']).plan).toEqual({ scope: ['task_pk'], scopes: snapshotScopesRelationOf(catalog.table).quoted, softDelete: 'deleted_at' });
    expect(snapshotPlanOf(t, catalog, ['task_pk', 'photo_id', 'url', 'deleted_at']).misfit?.column).toBe('deleted_at');
    const day = parseConfig({ tables: [{ table: 'totals', conflictKey: ['id'], mode: 'snapshot', scope: ['day'] }] }).tables[0]!;
    expect(() => planColumns(day, ['id', 'amount'])).toThrow(/missing snapshot scope column "day"/);
    expect(() => planColumns(t, ['task_pk', 'photo_id', 'deleted_at'])).toThrow(/soft-delete column "deleted_at", which Landfall writes itself/);
  });

  test('the keys and scopes tables are named per table, within 63 bytes', () => {
    const long = { schema: 'public', name: 'ä'.repeat(60) };
    for (const relation of [snapshotKeysRelationOf(long), snapshotScopesRelationOf(long)]) expect(Buffer.byteLength(relation.name)).toBeLessThanOrEqual(63);
    expect(snapshotKeysRelationOf({ schema: 'a', name: 't' }).name).not.toBe(snapshotKeysRelationOf({ schema: 'b', name: 't' }).name);
    expect(snapshotScopesRelationOf({ schema: 'public', name: 'photos' }).name).toMatch(/^snapshot_scopes_photos_[0-9a-f]{10}$/);
  });
});
