import { describe, expect, test } from 'vitest';
import { ConfigError, findTableForKey, parseConfig } from '../../shared/core/config.ts';

function problemsOf(input: unknown): string[] {
  try {
    parseConfig(input, 'landfall.json');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  test('fills the documented defaults', () => {
    const config = parseConfig({ tables: [{ table: 'orders', conflictKey: ['id'] }] });

    expect(config.tables[0]).toMatchObject({ prefix: 'orders/', version: '$arrival', mode: 'upsert', partitions: 8, arrivalColumn: '_landfall_arrival' });
    expect(config.batch).toEqual({ maxRows: 50_000, maxBytes: 8 * 1024 * 1024 });
  });

  test('a delete rule remembers deletes for 10 days unless told otherwise; the retention must be positive', () => {
    const config = parseConfig({
      tables: [
        { table: 'a', conflictKey: ['id'], delete: { column: '_op', equals: 'D' } },
        { table: 'b', conflictKey: ['id'], delete: { column: '_op', equals: 'D', retentionDays: 0.5 } },
      ],
    });

    expect(config.tables.map((t) => t.delete?.retentionDays)).toEqual([10, 0.5]);
    expect(problemsOf({ tables: [{ table: 'a', conflictKey: ['id'], delete: { column: '_op', equals: 'D', retentionDays: 0 } }] })).toEqual([
      'table "a": delete.retentionDays: must be more than 0',
    ]);
  });

  test('an error names the table and the field', () => {
    expect(problemsOf({ tables: [{ table: 'orders', conflictKey: [] }] })).toEqual(['table "orders": conflictKey: needs at least one column']);
  });

  test('an unknown field is refused, not ignored', () => {
    expect(problemsOf({ tables: [{ table: 'orders', conflictKey: ['id'], conflict_key: ['id'] }] })[0]).toMatch(/^table "orders": .*conflict_key/);
  });

  test('"schema" is strict by default, may be "evolve", and nothing else', () => {
    expect(parseConfig({ tables: [{ table: 'orders', conflictKey: ['id'] }] }).tables[0]!.schema).toBe('strict');
    expect(parseConfig({ tables: [{ table: 'orders', conflictKey: ['id'], schema: 'evolve' }] }).tables[0]!.schema).toBe('evolve');
    expect(problemsOf({ tables: [{ table: 'orders', conflictKey: ['id'], schema: 'loose' }] })[0]).toMatch(/^table "orders": schema: .*"strict".*"evolve"/);
  });

  test('a mistyped field says what it probably meant', () => {
    expect(problemsOf({ tables: [{ table: 'orders', conflictkey: ['id'], verison: 'seq' }] })).toEqual([
      'table "orders": conflictKey: Invalid input: expected array, received undefined',
      'table "orders": unknown field "conflictkey" (did you mean "conflictKey"?)',
      'table "orders": unknown field "verison" (did you mean "version"?)',
    ]);
  });

  test('a mistyped field of the delete rule is suggested from the schema itself', () => {
    expect(problemsOf({ tables: [{ table: 'orders', conflictKey: ['id'], delete: { column: '_op', equals: 'D', retentionDay: 3 } }] })).toEqual([
      'table "orders": delete: unknown field "retentionDay" (did you mean "retentionDays"?)',
    ]);
  });

  test('every problem comes in one pass: a field error in one table and a cross-field error in another', () => {
    expect(
      problemsOf({
        tables: [
          { table: 'orders', conflictKey: ['id'], partitions: 0 },
          { table: 'items', conflictKey: ['id', 'seq'], version: 'seq' },
        ],
        bacth: {},
      }),
    ).toEqual([
      'table "orders": partitions: Too small: expected number to be >=1',
      '(top level): unknown field "bacth" (did you mean "batch"?)',
      'table "items": version: "seq" is part of the conflict key; a version must be another column',
    ]);
  });

  test('a bad mode names the allowed values', () => {
    expect(problemsOf({ tables: [{ table: 'orders', conflictKey: ['id'], mode: 'merge' }] })[0]).toMatch(/^table "orders": mode: .*upsert.*insert/);
  });

  test('the version column cannot be part of the key', () => {
    expect(problemsOf({ tables: [{ table: 'orders', conflictKey: ['id', 'seq'], version: 'seq' }] })).toEqual([
      'table "orders": version: "seq" is part of the conflict key; a version must be another column',
    ]);
  });

  test('overlapping prefixes are refused', () => {
    const problems = problemsOf({
      tables: [
        { table: 'a', prefix: 'in/', conflictKey: ['id'] },
        { table: 'b', prefix: 'in/b/', conflictKey: ['id'] },
      ],
    });
    expect(problems).toEqual(['table "b": prefix: "in/b/" overlaps the prefix "in/" of table "a"']);
  });

  test('a table configured twice is refused', () => {
    const problems = problemsOf({
      tables: [
        { table: 'a', prefix: 'x/', conflictKey: ['id'] },
        { table: 'a', prefix: 'y/', conflictKey: ['id'] },
      ],
    });
    expect(problems).toContain('table "a": table: configured 2 times');
  });
});

describe('findTableForKey', () => {
  test('routes a key by its prefix', () => {
    const config = parseConfig({ tables: [{ table: 'a', conflictKey: ['id'] }, { table: 'sales.b', prefix: 'bee/', conflictKey: ['id'] }] });

    expect(findTableForKey(config, 'bee/2026/x.csv')?.table).toBe('sales.b');
    expect(findTableForKey(config, 'nowhere/x.csv')).toBeUndefined();
  });
});
