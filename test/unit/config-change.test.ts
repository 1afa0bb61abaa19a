import { expect, test } from 'vitest';
import { affectedFiles, configChange } from '../../shared/core/config-change.ts';
import { parseConfig } from '../../shared/core/config.ts';

const big = { table: 'big', prefix: 'big/', conflictKey: ['id'] };
const small = { table: 'small', prefix: 'small/', conflictKey: ['id'] };
const before = parseConfig({ tables: [big, small] });

test('a table left out or configured otherwise is a change; its partitions and the batch limits are not (a file keeps the chunking it started with)', () => {
  expect(configChange(before, parseConfig({ tables: [small] }))).toEqual({ removed: ['big'], changed: [] });
  expect(configChange(before, parseConfig({ tables: [{ ...big, version: 'v' }, small] }))).toEqual({ removed: [], changed: ['big'] });
  expect(configChange(before, parseConfig({ tables: [{ ...big, partitions: 2 }, small], batch: { maxRows: 5, maxBytes: 4096 } }))).toEqual({ removed: [], changed: [] });
});

test('files in flight of a removed or changed table, or routed elsewhere now, are named with why; the others are not', () => {
  const after = parseConfig({ tables: [{ ...small, prefix: 'sm/' }, { table: 'other', prefix: 'big/x/', conflictKey: ['id'] }] });

  const affected = affectedFiles(before, after, [
    { key: 'big/a.csv', table: 'big', why: 'in the ledger' },
    { key: 'small/b.csv', table: null, why: 'in the inbox' },
    { key: 'elsewhere/c.csv', table: null, why: 'in the inbox' },
  ]);

  expect(affected).toEqual([
    { key: 'big/a.csv', table: 'big', why: 'in the ledger', change: 'table "big" is not in the new config' },
    { key: 'small/b.csv', table: 'small', why: 'in the inbox', change: 'table "small" is configured otherwise' },
  ]);
});

test('a file under no prefix of the previous config was never taken up: not affected, whatever the new one does with it', () => {
  const after = parseConfig({ tables: [big, small, { table: 'late', prefix: 'late/', conflictKey: ['id'] }] });

  expect(affectedFiles(before, after, [{ key: 'late/x.csv', table: null, why: 'in the inbox' }])).toEqual([]);
});
