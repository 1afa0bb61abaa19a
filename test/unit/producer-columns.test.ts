import { describe, expect, test } from 'vitest';
import { planColumns } from '../../shared/core/column-plan.ts';
import { producerConfigFactory } from '../helpers/producer-files.ts';

const table = (extra: Record<string, unknown> = {}) =>
  producerConfigFactory({ tables: [{ table: 'orders', conflictKey: ['id', 'region'], ...extra }] }).tables[0]!;

describe('planColumns', () => {
  test('finds the key columns wherever they are', () => {
    expect(planColumns(table(), ['name', 'region', 'id'])).toEqual({ columns: ['name', 'region', 'id'], keyIndexes: [2, 1] });
  });

  test('applies the config mapping', () => {
    expect(planColumns(table({ columns: { ID: 'id' } }), ['ID', 'region']).columns).toEqual(['id', 'region']);
  });

  test('a missing key column names it', () => {
    expect(() => planColumns(table(), ['id', 'name'])).toThrow('missing conflict key column "region" of table "orders"');
  });

  test('a missing version column names it', () => {
    expect(() => planColumns(table({ version: 'updated_at' }), ['id', 'region'])).toThrow('missing version column "updated_at"');
  });

  test('an unknown column names it when the table columns are known', () => {
    expect(() => planColumns(table(), ['id', 'region', 'colour'], { knownColumns: new Set(['id', 'region']) })).toThrow(
      'unknown column "colour"',
    );
  });

  test('one error names every unknown and every missing column, with the fixes', () => {
    const plan = () => planColumns(table({ version: 'v' }), ['ID', 'colour', 'size'], { knownColumns: new Set(['id', 'region', 'v']) });

    expect(plan).toThrow(
      'unknown columns "ID", "colour", "size": table "orders" has no such column; missing conflict key column "id", conflict key column "region", version column "v" of table "orders". ' +
        'Fix: map them to a table column in the config\'s "columns", drop them from the file, or add them: ALTER TABLE "public"."orders" ADD COLUMN "ID" text, ADD COLUMN "colour" text, ADD COLUMN "size" text; ("schema": "evolve" adds unknown columns itself); ' +
        'the file must carry every conflict key column and the version column (or map its header to them in "columns"); then drop the file again',
    );
  });

  test('with "evolve", unknown columns pass; a missing key column still does not', () => {
    const known = { knownColumns: new Set(['id', 'region']), evolve: true };
    expect(planColumns(table(), ['id', 'region', 'colour'], known).columns).toEqual(['id', 'region', 'colour']);
    expect(() => planColumns(table(), ['id', 'colour'], known)).toThrow('missing conflict key column "region"');
  });

  test('the tombstone column need not exist in the table', () => {
    const plan = planColumns(table({ delete: { column: '_op', equals: 'D' } }), ['id', 'region', '_op'], {
      knownColumns: new Set(['id', 'region']),
    });
    expect(plan.columns).toEqual(['id', 'region', '_op']);
  });

  test('two file columns mapping to one table column are an error', () => {
    expect(() => planColumns(table({ columns: { ID: 'id' } }), ['ID', 'id', 'region'])).toThrow('column "id" appears twice');
  });

  test('an empty column name is an error naming its position', () => {
    expect(() => planColumns(table(), ['id', '', 'region'])).toThrow('column 2 has an empty name');
  });

  test('a file may not carry the arrival column', () => {
    expect(() => planColumns(table(), ['id', 'region', '_landfall_arrival'])).toThrow(/arrival column/);
  });

  test('nor, with a version column, the arrival column the table has (the consumer would refuse every batch)', () => {
    const known = { knownColumns: new Set(['id', 'region', 'v', '_landfall_arrival']) };
    expect(() => planColumns(table({ version: 'v' }), ['id', 'region', 'v', '_landfall_arrival'], known)).toThrow(/arrival column/);
    // A table without one: the column is just unknown to the table, named as such.
    expect(() => planColumns(table({ version: 'v' }), ['id', 'region', 'v', '_landfall_arrival'], { knownColumns: new Set(['id', 'region', 'v']) })).toThrow(/_landfall_arrival/);
  });
});
