import { describe, expect, test } from 'vitest';
import { createIndexStatement, uniqueIndexName } from '../../shared/core/conflict-key.ts';
import { KeepRuleError, parseKeepRule, resolveKeepRule } from '../../shared/tools/dedupe/keep-rule.ts';
import { backupTableName, compileRunSql, DedupePlanError, planDedupe, runTables } from '../../shared/tools/dedupe/plan.ts';
import { quoteIdent } from '../../shared/core/identifiers.ts';
import { column, tableCatalog, uniqueIndex } from '../helpers/catalog-factory.ts';

const orders = tableCatalog('orders', [column('id', 'int8', { notNull: true }), column('order_no', 'text', { notNull: true }), column('line', 'int4'), column('updated_at', 'timestamptz')], [
  uniqueIndex('orders_pkey', ['id'], { primary: true, constraint: 'orders_pkey' }),
]);
const noPk = tableCatalog('events', [column('event_id', 'text', { notNull: true }), column('seq', 'int8')]);

describe('parseKeepRule', () => {
  test.each([
    ['newest', { kind: 'newest', column: null }],
    ['oldest', { kind: 'oldest', column: null }],
    ['any', { kind: 'any', column: null }],
    ['version:seq', { kind: 'newest', column: 'seq' }],
    ['newest:updated_at', { kind: 'newest', column: 'updated_at' }],
    ['oldest:a:b', { kind: 'oldest', column: 'a:b' }],
  ])('%s', (input, expected) => {
    expect(parseKeepRule(input)).toEqual(expected);
  });

  test.each(['latest', 'version', 'version:', 'any:x'])('rejects %s', (input) => {
    expect(() => parseKeepRule(input)).toThrow(KeepRuleError);
  });
});

describe('resolveKeepRule', () => {
  test('a bare newest takes the configured version column before the arrival column', () => {
    expect(resolveKeepRule({ kind: 'newest', column: null }, { versionColumn: 'seq', arrivalColumn: '_landfall_arrival' })).toEqual({ kind: 'newest', column: 'seq' });
  });
  test('falls back to the arrival column', () => {
    expect(resolveKeepRule({ kind: 'oldest', column: null }, { versionColumn: null, arrivalColumn: '_a' })).toEqual({ kind: 'oldest', column: '_a' });
  });
  test('without either it names the ways out', () => {
    expect(() => resolveKeepRule({ kind: 'newest', column: null }, { versionColumn: null, arrivalColumn: null })).toThrow(/--keep newest:<col>.*--keep any/);
  });
});

describe('planDedupe', () => {
  test('the index name is the one createIndexStatement uses', () => {
    const plan = planDedupe(orders, { key: ['order_no', 'line'], keep: { kind: 'newest', column: 'updated_at' }, batchSize: 100 });
    expect(plan.indexName).toBe(uniqueIndexName(orders.table, ['order_no', 'line']));
    expect(createIndexStatement(orders, ['order_no', 'line'])).toContain(quoteIdent(plan.indexName));
  });

  test('NULLS NOT DISTINCT by default exactly when a key column is nullable', () => {
    const nullable = planDedupe(orders, { key: ['order_no', 'line'], keep: { kind: 'any', column: null }, batchSize: 1 });
    expect(nullable.nullsNotDistinct).toBe(true);
    expect(nullable.createIndex).toMatch(/NULLS NOT DISTINCT;$/);
    const notNull = planDedupe(orders, { key: ['order_no'], keep: { kind: 'any', column: null }, batchSize: 1 });
    expect(notNull.nullsNotDistinct).toBe(false);
    expect(notNull.createIndex).not.toContain('NULLS NOT DISTINCT');
  });

  test('--nulls-distinct leaves keys with a NULL out of the plan', () => {
    const plan = planDedupe(orders, { key: ['order_no', 'line'], keep: { kind: 'any', column: null }, nullsNotDistinct: false, batchSize: 1 });
    const run = compileRunSql(plan, runTables(backupTableName(orders.table, new Date(0))), orders);
    expect(run.buildPlan[0]).toContain('WHERE "line" IS NOT NULL');
    expect(run.applyBatch).toContain('w."line" = l."line"');
    expect(plan.createIndex).not.toContain('NULLS NOT DISTINCT');
  });

  test('ties break by the primary key when there is one, else by ctid', () => {
    const withPk = planDedupe(orders, { key: ['order_no'], keep: { kind: 'newest', column: 'updated_at' }, batchSize: 1 });
    expect(withPk.tieBreak).toEqual({ kind: 'primary-key', columns: ['id'] });
    const run = compileRunSql(withPk, runTables(backupTableName(orders.table, new Date(0))), orders);
    expect(run.buildPlan[0]).toContain('ORDER BY "updated_at" DESC NULLS LAST, "id" DESC');
    expect(run.applyBatch).toContain('(w."id") > (l."id")');
    const ctid = planDedupe(noPk, { key: ['event_id'], keep: { kind: 'oldest', column: 'seq' }, batchSize: 1 });
    expect(ctid.tieBreak).toEqual({ kind: 'ctid' });
    const runCtid = compileRunSql(ctid, runTables(backupTableName(noPk.table, new Date(0))), noPk);
    expect(runCtid.buildPlan[0]).toContain('ORDER BY "seq" ASC NULLS LAST, ctid ASC');
    expect(runCtid.applyBatch).toContain('w.wc < l.lc');
  });

  test('a batch deletes only rows a present, locked row of the same key beats', () => {
    const plan = planDedupe(noPk, { key: ['event_id'], keep: { kind: 'newest', column: 'seq' }, batchSize: 1 });
    const run = compileRunSql(plan, runTables({ schema: 'landfall_backup', name: 'events_x' }), noPk);
    expect(run.applyBatch).toContain('FOR SHARE');
    expect(run.applyBatch).toContain('w."event_id" = l."event_id"');
    expect(run.applyBatch).toContain('((w."seq" IS NOT NULL AND l."seq" IS NULL) OR w."seq" > l."seq" OR (w."seq" IS NOT DISTINCT FROM l."seq" AND w.wc > l.lc))');
    expect(run.applyBatch).toMatch(/INSERT INTO "landfall_backup"\."events_x"/);
    expect(run.applyBatch).not.toMatch(/\$3/);
  });

  test('identifiers are quoted', () => {
    const odd = tableCatalog('we"ird', [column('k"ey', 'text', { notNull: true }), column('v', 'int4')]);
    const plan = planDedupe(odd, { key: ['k"ey'], keep: { kind: 'newest', column: 'v' }, batchSize: 1 });
    const run = compileRunSql(plan, runTables(backupTableName(odd.table, new Date(0))), odd);
    expect(run.buildPlan[0]).toContain('"public"."we""ird"');
    expect(run.buildPlan[0]).toContain('PARTITION BY "k""ey"');
  });

  test.each([
    [{ key: [] as string[] }, /at least one/],
    [{ key: ['nope'] }, /"nope" do not exist/],
    [{ key: ['order_no', 'order_no'] }, /twice/],
    [{ key: ['order_no'], keep: { kind: 'newest' as const, column: 'order_no' } }, /part of the key/],
    [{ key: ['order_no'], keep: { kind: 'newest' as const, column: 'nope' } }, /does not exist/],
    [{ key: ['order_no'], batchSize: 0 }, /--batch/],
  ])('rejects %o', (override, message) => {
    expect(() => planDedupe(orders, { keep: { kind: 'any', column: null }, batchSize: 10, ...override })).toThrow(
      expect.objectContaining({ name: DedupePlanError.name, message: expect.stringMatching(message) }),
    );
  });
});

describe('backupTableName', () => {
  test('table and UTC timestamp, schema prefixed outside public, within 63 bytes', () => {
    const at = new Date('2026-11-23T10:15:00Z');
    expect(backupTableName({ schema: 'public', name: 'orders' }, at)).toEqual({ schema: 'landfall_backup', name: 'orders_20261123_101500' });
    expect(backupTableName({ schema: 'sales', name: 'orders' }, at).name).toBe('sales_orders_20261123_101500');
    const long = backupTableName({ schema: 'public', name: 'é'.repeat(40) }, at);
    expect(Buffer.byteLength(`${long.name}_plan`)).toBeLessThanOrEqual(63);
    expect(long.name.endsWith('_20261123_101500')).toBe(true);
  });
});
