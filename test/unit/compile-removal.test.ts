import { describe, expect, test } from 'vitest';
import { checkTableConfig } from '../../shared/core/conflict-key.ts';
import { snapshotScopesRelationOf } from '../../shared/core/snapshot-plan.ts';
import { buildUpsertPlan } from '../../shared/core/upsert-plan.ts';
import { compileKeyRecord, compileRemovalChunk, compileScopeClaim, type RemovalTarget, snapshotArrivalOf } from '../../shared/postgres/compile-removal.ts';
import { compileUpsert } from '../../shared/postgres/compile-upsert.ts';
import { column, tableCatalog, uniqueIndex } from '../helpers/catalog-factory.ts';
import { tableConfig } from '../helpers/engine.ts';

const catalog = tableCatalog(
  'photos',
  [column('task_pk', 'int4'), column('photo_id', 'int4'), column('url'), column('deleted_at', 'timestamptz'), column('_landfall_arrival')],
  [uniqueIndex('photos_pkey', ['task_pk', 'photo_id'], { primary: true })],
);
const scopes = snapshotScopesRelationOf(catalog.table).quoted;
const planOf = (extra: Record<string, unknown> = {}) => {
  const config = tableConfig({ table: 'photos', conflictKey: ['task_pk', 'photo_id'], mode: 'snapshot', scope: ['task_pk'], ...extra });
  return buildUpsertPlan(config, catalog, checkTableConfig(config, catalog), ['task_pk', 'photo_id', 'url']);
};
const target = (extra: Partial<RemovalTarget> = {}): RemovalTarget => ({
  target: '"public"."photos"',
  key: ['task_pk', 'photo_id'],
  nullsEqual: false,
  scope: ['task_pk'],
  softDelete: null,
  arrivalColumn: '_landfall_arrival',
  keys: '"landfall"."k"',
  scopes,
  recorded: ['task_pk', 'photo_id'],
  ...extra,
});

describe('the upsert of a snapshot table', () => {
  test('a row older than its scope\'s newest snapshot is written nowhere and counted stale', () => {
    const plan = planOf();
    expect(plan.snapshot).toEqual({ scope: ['task_pk'], scopes, softDelete: null });
    const { text } = compileUpsert(plan);
    const superseded = `EXISTS (SELECT 1 FROM ${scopes} AS w WHERE w."task_pk" = red."task_pk" AND w."landfall$arrival" COLLATE "C" > red."_landfall_arrival" COLLATE "C")`;
    expect(text).toContain(`FROM red WHERE NOT ${superseded}`);
    expect(text).toContain(` OR ${superseded}`);
  });

  test('soft delete: every write clears the mark, and a marked row that comes back counts as changed', () => {
    const { text } = compileUpsert(planOf({ missing: { softDelete: 'deleted_at' } }));
    expect(text).toContain('"deleted_at" = NULL');
    expect(text).toMatch(/OR cur\."deleted_at" IS NOT NULL\)/);
  });

  test('a table in another mode is compiled as before', () => {
    const config = tableConfig({ table: 'photos', conflictKey: ['task_pk', 'photo_id'] });
    const plan = buildUpsertPlan(config, catalog, checkTableConfig(config, catalog), ['task_pk', 'photo_id', 'url']);
    expect(plan.snapshot).toBeNull();
    expect(compileUpsert(plan).text).not.toContain('landfall$arrival');
  });
});

describe('the removal', () => {
  test('keys are bound as one array per column, under the file\'s number', () => {
    const plain = compileKeyRecord(planOf(), target(), null);
    expect(plain.text).toContain('SELECT $1::int8, u.v0, u.v1 FROM unnest($2::int4[], $3::int4[])');
    expect(plain.inputs).toEqual([0, 1]);
    const screened = compileKeyRecord(planOf(), target(), { fullTypes: new Map([['task_pk', 'integer'], ['photo_id', 'integer']]) });
    expect(screened.text).toContain('WHERE (u.v0 IS NULL OR pg_input_is_valid(u.v0, $4::text)) AND (u.v1 IS NULL OR pg_input_is_valid(u.v1, $5::text))');
    expect(screened.types).toEqual(['integer', 'integer']);
  });

  test('a scope is claimed only where the file is newer than its newest snapshot', () => {
    const text = compileScopeClaim(target());
    expect(text).toContain('SELECT DISTINCT "task_pk" FROM "landfall"."k" WHERE "landfall$file" = $1::int8 AND "task_pk" IS NOT NULL');
    expect(text).toContain('WHERE w."landfall$arrival" COLLATE "C" < EXCLUDED."landfall$arrival" COLLATE "C"');
    expect(compileScopeClaim(target({ scope: [] }))).toContain('SELECT true AS "landfall$all"');
  });

  test('one anti-join per chunk of scopes; a row goes only when the snapshot is newer than its last write', () => {
    const text = compileRemovalChunk(target());
    expect(text).toContain('DELETE FROM "public"."photos" AS cur USING (SELECT "task_pk" FROM');
    expect(text).toContain('(cur."_landfall_arrival" IS NULL OR cur."_landfall_arrival" COLLATE "C" <= snap."_landfall_arrival" COLLATE "C")');
    expect(text).toContain('NOT EXISTS (SELECT 1 FROM "landfall"."k" AS k WHERE k."landfall$file" = $1::int8 AND k."task_pk" = cur."task_pk" AND k."photo_id" = cur."photo_id")');
    expect(text.match(/DELETE/g)).toHaveLength(1);
    const soft = compileRemovalChunk(target({ scope: [], softDelete: 'deleted_at' }));
    expect(soft).toMatch(/^UPDATE "public"."photos" AS cur SET "deleted_at" = \$4::timestamptz, "_landfall_arrival" = \$3::text/);
    expect(soft).toContain('cur."deleted_at" IS NULL');
  });

  test('a file\'s arrival as its scopes remember it sorts before each of its rows and after every row of an earlier file', () => {
    const a = '2026-06-01T00:00:00.000Z!61';
    const b = '2026-06-01T00:00:00.000Z!6162';
    expect(snapshotArrivalOf(a) < `${a}!000000000001`).toBe(true);
    expect(`${a}!999999999999` < snapshotArrivalOf(b)).toBe(true);
  });
});
