import { describe, expect, test } from 'vitest';
import { fileArrivalOf } from '../../shared/core/batch.ts';
import type { TableCatalog } from '../../shared/core/catalog-types.ts';
import { checkTableConfig } from '../../shared/core/conflict-key.ts';
import { beatsTombstone, compileUpsert, winnerGuard } from '../../shared/postgres/compile-upsert.ts';
import { parseTableName, quoteIdent } from '../../shared/core/identifiers.ts';
import { toPgArrayLiteral } from '../../shared/postgres/pg-array.ts';
import { tombstoneRelationOf } from '../../shared/core/tombstone-names.ts';
import { BatchShapeError, buildUpsertPlan, findNullKeyRows } from '../../shared/core/upsert-plan.ts';
import { tableConfig } from '../helpers/engine.ts';

const catalog: TableCatalog = {
  table: { schema: 'public', name: 'items' },
  quoted: '"public"."items"',
  estimatedRows: 0,
  columns: [
    { name: 'id', type: 'integer', castType: 'integer', baseType: 'int4', notNull: true, hasDefault: false, generated: false },
    { name: 'name', type: 'text', castType: 'text', baseType: 'text', notNull: false, hasDefault: false, generated: false },
    { name: 'doc', type: 'json', castType: 'json', baseType: 'json', notNull: false, hasDefault: false, generated: false },
    { name: 'v', type: 'bigint', castType: 'bigint', baseType: 'int8', notNull: true, hasDefault: false, generated: false },
    { name: 'total', type: 'numeric(12,2)', castType: 'numeric', baseType: 'numeric', notNull: false, hasDefault: true, generated: true },
    { name: '_landfall_arrival', type: 'text', castType: 'text', baseType: 'text', notNull: false, hasDefault: false, generated: false },
  ],
  uniqueIndexes: [
    { name: 'items_pkey', columns: ['id'], primary: true, constraint: 'items_pkey', partial: false, expression: false, nullsNotDistinct: false, valid: true, deferrable: false, definition: '' },
  ],
};

const config = tableConfig({ table: 'items', conflictKey: ['id'], version: 'v', delete: { column: '_op', equals: 'D' } });
const check = checkTableConfig(config, catalog);

describe('buildUpsertPlan', () => {
  test('casts each batch column to its catalog type and keeps the tombstone column out of the table', () => {
    const plan = buildUpsertPlan(config, catalog, check, ['id', 'name', 'v', '_op']);

    expect(plan.columns).toEqual([
      { name: 'id', type: 'integer', input: 0, param: 'integer', cast: null },
      { name: 'name', type: 'text', input: 1, param: 'text', cast: null },
      { name: 'v', type: 'bigint', input: 2, param: 'bigint', cast: null },
    ]);
    expect(plan.tombstone).toEqual({ input: 3, equals: 'D', remembered: tombstoneRelationOf({ schema: 'public', name: 'items' }).quoted });
    expect(plan.updateColumns).toEqual(['name', 'v', '_landfall_arrival']);
  });

  test('a batch without the delete column still carries the table\'s delete rule (rule 6 for every batch), with no tombstone input', () => {
    const plan = buildUpsertPlan(config, catalog, check, ['id', 'name', 'v']);

    expect(plan.tombstone).toEqual({ input: null, equals: 'D', remembered: tombstoneRelationOf({ schema: 'public', name: 'items' }).quoted });
    const { text } = compileUpsert(plan);
    expect(text).toContain('NULL::text AS "landfall$tomb"');
    expect(text).toMatch(/NOT EXISTS \(SELECT 1 FROM "landfall"\."tombstones_items_[0-9a-f]+" AS t WHERE/);
  });

  test('a table without a delete rule has no tombstone in its plan', () => {
    const plan = buildUpsertPlan(tableConfig({ table: 'items', conflictKey: ['id'], version: 'v' }), catalog, check, ['id', 'name', 'v']);

    expect(plan.tombstone).toBeNull();
  });

  test('a json column is compared in a canonical form (json has no equality operator)', () => {
    const plan = buildUpsertPlan(config, catalog, check, ['id', 'doc', 'v']);

    expect(plan.compareColumns).toEqual([
      { name: 'doc', asText: true, canonical: 'json' },
      { name: 'v', asText: false },
    ]);
  });

  test.each([
    [['id', 'nope', 'v'], 'nope', /column "nope" does not exist/],
    [['name', 'v'], 'id', /no column "id" of the conflict key/],
    [['id', 'name'], 'v', /no version column "v"/],
    [['id', 'v', 'total'], 'total', /"total" is generated/],
    [['id', 'v', '_landfall_arrival'], '_landfall_arrival', /arrival column/],
    [['id', 'v', 'v'], 'v', /appears twice/],
  ])('columns %j are refused naming %s', (columns, column, message) => {
    let error: unknown;
    try {
      buildUpsertPlan(config, catalog, check, columns);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BatchShapeError);
    expect((error as BatchShapeError).column).toBe(column);
    expect((error as BatchShapeError).message).toMatch(message);
  });
});

describe('compileUpsert', () => {
  test('a jsonb column is bound as text and cast per row (jsonb[] input is slower); json as json', () => {
    const docs: TableCatalog = {
      ...catalog,
      columns: [...catalog.columns, { name: 'attrs', type: 'jsonb', castType: 'jsonb', baseType: 'jsonb', notNull: false, hasDefault: false, generated: false }],
    };
    const plain = tableConfig({ table: 'items', conflictKey: ['id'], version: 'v' });
    const plan = buildUpsertPlan(plain, docs, checkTableConfig(plain, docs), ['id', 'doc', 'attrs', 'v']);

    expect(plan.columns.find((c) => c.name === 'attrs')).toMatchObject({ param: 'text', cast: 'jsonb' });
    expect(plan.columns.find((c) => c.name === 'doc')).toMatchObject({ param: 'json', cast: null });
    expect(compileUpsert(plan).text).toContain('u.i2::jsonb AS "attrs"');
  });

  test('the unsorted form differs from the statement only in its reduction, and only plans that raise 21000 on a repeated key have one', () => {
    const plain = tableConfig({ table: 'items', conflictKey: ['id'], version: 'v' });
    const { text, unsorted } = compileUpsert(buildUpsertPlan(plain, catalog, checkTableConfig(plain, catalog), ['id', 'name', 'v']));

    expect(unsorted).not.toBeNull();
    expect(unsorted).toContain(', red AS (\n  SELECT * FROM src\n)');
    expect(unsorted!.replace(', red AS (\n  SELECT * FROM src\n)', '')).toBe(text.replace(/, red AS \(\n  SELECT DISTINCT ON [^\n]*\n\)/, ''));
    // DO NOTHING (insert mode) would drop a repeated key silently; a delete rule: no unsorted form either.
    const insertMode = tableConfig({ table: 'items', conflictKey: ['id'], mode: 'insert' });
    expect(compileUpsert(buildUpsertPlan(insertMode, catalog, checkTableConfig(insertMode, catalog), ['id', 'name'])).unsorted).toBeNull();
    expect(compileUpsert(buildUpsertPlan(plain, catalog, checkTableConfig(plain, catalog), ['id', 'v'])).unsorted).not.toBeNull();
    expect(compileUpsert(buildUpsertPlan(config, catalog, check, ['id', 'name', 'v', '_op'])).unsorted).toBeNull();
  });

  test('the merge form\'s unsorted form ranks every row first without the windows, unless a CHECK makes every key read its stored row', () => {
    const withQty = { ...catalog, columns: [...catalog.columns, { name: 'qty', type: 'integer', castType: 'integer', baseType: 'int4', notNull: false, hasDefault: false, generated: false }] };
    const added = tableConfig({ table: 'items', conflictKey: ['id'], version: 'v', merge: { name: 'keep', qty: 'add' } });
    const { text, unsorted } = compileUpsert(buildUpsertPlan(added, withQty, checkTableConfig(added, withQty), ['id', 'name', 'qty', 'v']));

    expect(text).toContain('row_number() OVER');
    expect(unsorted).toContain('SELECT src.*, 1::int8 AS "landfall$n", 1::int8 AS "landfall$rank"');
    expect(unsorted).not.toContain('OVER (PARTITION BY "id" ORDER BY');
    const checked = { ...withQty, columns: withQty.columns.map((c) => (c.name === 'qty' ? { ...c, checked: true } : c)) };
    expect(compileUpsert(buildUpsertPlan(added, checked, checkTableConfig(added, checked), ['id', 'name', 'qty', 'v'])).unsorted).toBeNull();
  });

  test('the statement is one INSERT .. SELECT DISTINCT ON over unnest, with no value in the text', () => {
    const { text, extraParams } = compileUpsert(buildUpsertPlan(config, catalog, check, ['id', 'name', 'v', '_op']));

    expect(text).toContain('FROM unnest($1::integer[], $2::text[], $3::bigint[], $4::text[], $5::int8[])');
    expect(text).toContain('SELECT DISTINCT ON ("id") * FROM src ORDER BY "id", "v" DESC NULLS LAST, "landfall$ord" DESC');
    expect(text).toContain('ON CONFLICT ("id") DO UPDATE SET "name" = EXCLUDED."name", "v" = EXCLUDED."v", "_landfall_arrival" = EXCLUDED."_landfall_arrival" WHERE');
    expect(text).toContain('RETURNING cur."id"\n)');
    expect(text).not.toContain('xmax');
    expect(extraParams).toEqual(['rowNumbers', 'batchId', 'arrival', 'tombstoneEquals', 'tombstoneRetentionDays']);
  });

  test('insert mode never updates', () => {
    const insertConfig = tableConfig({ table: 'items', conflictKey: ['id'], mode: 'insert' });
    const plan = buildUpsertPlan(insertConfig, catalog, checkTableConfig(insertConfig, catalog), ['id', 'name']);

    expect(compileUpsert(plan).text).toContain('ON CONFLICT ("id") DO NOTHING');
  });

  test('the winner guard compares versions, then arrivals in byte order', () => {
    const plan = buildUpsertPlan(config, catalog, check, ['id', 'v']);

    expect(winnerGuard(plan, 'cur', 'inc')).toBe(
      '(inc."v" > cur."v" OR (cur."v" IS NULL AND inc."v" IS NOT NULL) OR (inc."v" IS NOT DISTINCT FROM cur."v" AND (cur."_landfall_arrival" IS NULL OR cur."_landfall_arrival" COLLATE "C" <= inc."_landfall_arrival" COLLATE "C")))',
    );
  });
});

describe('remembered deletes', () => {
  test('a table with a delete rule reads and writes its tombstone table; one without does not', () => {
    const { text } = compileUpsert(buildUpsertPlan(config, catalog, check, ['id', 'name', 'v', '_op']));
    const plain = tableConfig({ table: 'items', conflictKey: ['id'], version: 'v' });
    const withoutDeletes = compileUpsert(buildUpsertPlan(plain, catalog, checkTableConfig(plain, catalog), ['id', 'name', 'v'])).text;
    const relation = tombstoneRelationOf({ schema: 'public', name: 'items' }).quoted;

    expect(text).toContain(`tomb_put AS (\n  INSERT INTO ${relation} AS t ("id", "landfall$version", "landfall$arrival", "landfall$deleted_at")`);
    expect(text).toContain(`NOT EXISTS (SELECT 1 FROM ${relation} AS t WHERE t."id" = red."id" AND t."landfall$deleted_at" >= now() - $9::float8 * interval '1 day'`);
    expect(text).toContain('FOR UPDATE SKIP LOCKED');
    expect(withoutDeletes).not.toContain('landfall$deleted_at');
  });

  test('an incoming row beats a tombstone with a greater version, or the same version and a later arrival', () => {
    const plan = buildUpsertPlan(config, catalog, check, ['id', 'v', '_op']);

    expect(beatsTombstone(plan, 'red."v"', 'red."a"', 't')).toBe(
      '(red."v" > t."landfall$version" OR (t."landfall$version" IS NULL AND red."v" IS NOT NULL) OR (red."v" IS NOT DISTINCT FROM t."landfall$version" AND red."a" COLLATE "C" > t."landfall$arrival" COLLATE "C"))',
    );
  });

  test('the tombstone table name is readable, unique per table and fits in 63 bytes', () => {
    const long = tombstoneRelationOf({ schema: 'public', name: 'ä'.repeat(60) });
    const a = tombstoneRelationOf({ schema: 'sales', name: 'orders' });
    const b = tombstoneRelationOf({ schema: 'public', name: 'orders' });

    expect(Buffer.byteLength(long.name)).toBeLessThanOrEqual(63);
    expect(a.name).toMatch(/^tombstones_orders_[0-9a-f]{10}$/);
    expect(a.name).not.toBe(b.name);
    expect(a.quoted).toBe(`"landfall"."${a.name}"`);
  });

  test('a table column with a name Landfall uses inside the statement is refused', () => {
    const reserved: TableCatalog = { ...catalog, columns: [...catalog.columns, { ...catalog.columns[1]!, name: 'landfall$arrival' }] };

    expect(() => buildUpsertPlan(config, reserved, checkTableConfig(config, reserved), ['id', 'v'])).toThrow(/"landfall\$arrival" is reserved/);
  });
});

describe('findNullKeyRows', () => {
  test('lists rows with a NULL in any key column', () => {
    const plan = buildUpsertPlan(config, catalog, check, ['name', 'id', 'v']);

    expect(findNullKeyRows(plan, [['a', null, 'c'], ['1', null, '3'], ['1', '1', '1']])).toEqual([1]);
  });
});

describe('small pieces', () => {
  test('toPgArrayLiteral quotes every element and keeps NULL apart from "NULL"', () => {
    expect(toPgArrayLiteral(['a', null, 'NULL', 'x"y\\z', '', '{,}'])).toBe('{"a",NULL,"NULL","x\\"y\\\\z","","{,}"}');
    // Escaping every quote and backslash of a value, wherever they are.
    expect(toPgArrayLiteral(['\\', '"', 'a"b"c', 'a\\b\\', ' ', 'plain', 7])).toBe('{"\\\\","\\"","a\\"b\\"c","a\\\\b\\\\"," ","plain",7}');
  });

  test('quoteIdent doubles quotes', () => {
    expect(quoteIdent('x"; drop table t; --')).toBe('"x""; drop table t; --"');
  });

  test('parseTableName splits schema and keeps quoted dots', () => {
    expect(parseTableName('sales.orders')).toEqual({ schema: 'sales', name: 'orders' });
    expect(parseTableName('"a.b"')).toEqual({ schema: 'public', name: 'a.b' });
    expect(() => parseTableName('a.b.c')).toThrow(/must be "table" or "schema.table"/);
  });

  test('file arrival sorts by event time, then key, in byte order', () => {
    const arrivals = [
      fileArrivalOf({ eventTime: '2026-01-01T00:00:01Z', key: 'a' }),
      fileArrivalOf({ eventTime: '2026-01-01T00:00:00Z', key: 'ab' }),
      fileArrivalOf({ eventTime: '2026-01-01T00:00:00Z', key: 'a' }),
      fileArrivalOf({ eventTime: '2026-01-01T00:00:00Z', key: 'a b' }),
    ];
    const sorted = [...arrivals].sort((x, y) => (Buffer.from(x) < Buffer.from(y) ? -1 : 1));

    expect(sorted).toEqual([arrivals[2], arrivals[3], arrivals[1], arrivals[0]]);
  });
});

describe('merge rules in the plan and the statement', () => {
  const ruled: TableCatalog = {
    ...catalog,
    columns: [
      ...catalog.columns.filter((c) => c.name !== 'total'),
      { name: 'n', type: 'numeric(12,2)', castType: 'numeric', baseType: 'numeric', notNull: true, hasDefault: true, generated: false, defaultExpr: '0', checked: false },
    ],
  };
  const rules = tableConfig({ table: 'items', conflictKey: ['id'], version: 'v', merge: { n: 'add', name: 'ignoreNull' } });
  const ruledCheck = checkTableConfig(rules, ruled);

  test('the plan lists the rules of the batch columns, the absent columns, and what the merge form needs of each column', () => {
    const plan = buildUpsertPlan(rules, ruled, ruledCheck, ['id', 'name', 'v', 'n'], ['name', 'v']);

    expect(plan.rules).toEqual({ name: 'ignoreNull', n: 'add' });
    // The version column's absent values are NULL versions, not absent values.
    expect(plan.absent).toEqual([{ name: 'name', input: 1, defaultExpr: null }]);
    expect(plan.facts.n).toEqual({ defaultExpr: '0', notNull: true, checked: false });
    // An accumulating column of a rounding type is rounded per row before it is summed.
    expect(plan.columns.find((c) => c.name === 'n')).toMatchObject({ param: 'numeric', cast: 'numeric(12,2)' });
  });

  test('a plan without rules or absent values compiles to the plain statement; one with them to the merge form', () => {
    const plainText = compileUpsert(buildUpsertPlan(rules, ruled, ruledCheck, ['id', 'v'])).text;
    const merged = compileUpsert(buildUpsertPlan(rules, ruled, ruledCheck, ['id', 'name', 'v', 'n'])).text;

    expect(plainText).toContain('SELECT DISTINCT ON ("id")');
    expect(plainText).not.toContain('ranked');
    expect(merged).toContain('ranked AS (');
    expect(merged).toContain('CASE WHEN EXCLUDED."n" IS NULL THEN cur."n" WHEN cur."n" IS NULL THEN EXCLUDED."n" ELSE cur."n" + EXCLUDED."n" END');
    // A NULL delta gives nothing: the proposed row holds the default (NOT NULL), and a flag keeps the stored value.
    expect(merged).toContain('"n" = CASE WHEN (EXCLUDED."id") IN (SELECT red."id" FROM red WHERE red."landfall$nc3") THEN cur."n" ELSE');
    // The stored row is read (and locked) only for keys with several rows.
    expect(merged).toContain('FOR UPDATE) AS s ON true');
    expect(merged).toContain('WHERE r."landfall$n" > 1 AND r."landfall$rank" = 1');
  });

  test('absent values travel as one flag array each, after the extra parameters, and reach the SET as a hashed key lookup', () => {
    const addOnly = tableConfig({ table: 'items', conflictKey: ['id'], version: 'v', merge: { n: 'add' } });
    const { text, extraParams } = compileUpsert(buildUpsertPlan(addOnly, ruled, checkTableConfig(addOnly, ruled), ['id', 'name', 'v', 'n'], ['name']));

    expect(extraParams).toEqual(['rowNumbers', 'batchId', 'arrival']);
    expect(text).toContain('FROM unnest($1::integer[], $2::text[], $3::bigint[], $4::numeric[], $5::int8[], $8::bool[])');
    expect(text).toContain('CASE WHEN (EXCLUDED."id") IN (SELECT red."id" FROM red WHERE red."landfall$nc1") THEN cur."name"');
  });

  test('a table column named like the merge form\'s own columns is refused', () => {
    const clash: TableCatalog = { ...ruled, columns: [...ruled.columns, { ...ruled.columns[1]!, name: 'landfall$rank' }] };

    expect(() => buildUpsertPlan(rules, clash, checkTableConfig(rules, clash), ['id', 'v'])).toThrow(/"landfall\$rank" is reserved by Landfall/);
  });
});
