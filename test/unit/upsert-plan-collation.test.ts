import { describe, expect, test } from 'vitest';
import { checkTableConfig } from '../../shared/core/conflict-key.ts';
import { compileUpsert } from '../../shared/postgres/compile-upsert.ts';
import { buildUpsertPlan } from '../../shared/core/upsert-plan.ts';
import { column, tableCatalog, uniqueIndex } from '../helpers/catalog-factory.ts';
import { tableConfig } from '../helpers/engine.ts';

const ci = { schema: 'public', name: 'ci', deterministic: false, locale: 'und-u-ks-level2' };

describe('a key under a nondeterministic collation', () => {
  const catalog = tableCatalog('people', [column('email', 'text', { notNull: true, collation: ci }), column('nick', 'text', { collation: ci })], [uniqueIndex('people_pkey', ['email'], { primary: true })]);
  const config = tableConfig({ table: 'people', conflictKey: ['email'] });
  const plan = buildUpsertPlan(config, catalog, checkTableConfig(config, catalog), ['email', 'nick']);

  test('is reduced under that collation (equal keys collapse instead of raising 21000); other columns are not', () => {
    expect(plan.columns.map((c) => c.collate ?? null)).toEqual(['"public"."ci"', null]);
    expect(compileUpsert(plan).text).toContain('u.i0 COLLATE "public"."ci" AS "email"');
  });

  test('a deterministic collation changes nothing (byte equality either way)', () => {
    const plain = tableCatalog('people', [column('email', 'text', { notNull: true, collation: { ...ci, name: 'en-x-icu', deterministic: true } })], [uniqueIndex('people_pkey', ['email'], { primary: true })]);
    const c = tableConfig({ table: 'people', conflictKey: ['email'] });
    expect(buildUpsertPlan(c, plain, checkTableConfig(c, plain), ['email']).columns[0]!.collate).toBeUndefined();
  });
});
