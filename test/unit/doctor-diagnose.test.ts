import { describe, expect, test } from 'vitest';
import { doctorExitCode, diagnoseTable, uncheckedReport, withBlockedCheck, type DoctorTarget, type DuplicateCount } from '../../shared/tools/doctor/diagnose.ts';
import { formatDoctorReport } from '../../shared/tools/doctor/format-report.ts';
import { column, tableCatalog, uniqueIndex } from '../helpers/catalog-factory.ts';

const target: DoctorTarget = { table: 'events', key: ['event_id'], version: 'seq', mode: 'upsert', arrivalColumn: '_landfall_arrival' };
const noDuplicates: DuplicateCount = { exact: true, groups: 0, surplus: 0, nullGroups: 0, nullSurplus: 0, estimate: null };
const columns = [column('id', 'int8', { notNull: true, hasDefault: true }), column('event_id', 'text', { notNull: true }), column('seq', 'int8'), column('_landfall_arrival', 'text')];
const pk = uniqueIndex('events_pkey', ['id'], { primary: true, constraint: 'events_pkey' });
const healthy = tableCatalog('events', columns, [pk, uniqueIndex('events_event_id_key', ['event_id'])]);
const byCheck = (r: ReturnType<typeof diagnoseTable>, check: string) => r.checks.filter((c) => c.check === check);

describe('diagnoseTable', () => {
  test('a table with the matching unique index, NOT NULL key, numeric version and arrival column is healthy', () => {
    const report = diagnoseTable(target, healthy, noDuplicates);
    expect(report.status).toBe('healthy');
    expect(report.checks.every((c) => c.severity === 'ok' || c.severity === 'info')).toBe(true);
    expect(doctorExitCode([report])).toBe(0);
  });

  test('no unique index on the key: an error with the exact CREATE UNIQUE INDEX', () => {
    const report = diagnoseTable(target, tableCatalog('events', columns, [pk]), noDuplicates);
    const [index] = byCheck(report, 'unique index');
    expect(index!.severity).toBe('error');
    expect(index!.message).toContain('"events_pkey" is on (id)');
    expect(index!.fix).toEqual(['CREATE UNIQUE INDEX CONCURRENTLY "events_event_id_key" ON "public"."events" ("event_id");']);
    expect(doctorExitCode([report])).toBe(1);
  });

  test('no unique index and duplicates: the fix is the dedupe command', () => {
    const report = diagnoseTable(target, tableCatalog('events', columns, [pk]), { ...noDuplicates, groups: 3, surplus: 7 });
    expect(byCheck(report, 'unique index')[0]!.fix[0]).toMatch(/^landfall dedupe events --key event_id --keep version:seq /);
    expect(byCheck(report, 'duplicates')[0]).toMatchObject({ severity: 'error', message: expect.stringContaining('3 key(s) stored more than once, 7 surplus') });
  });

  test('a partial unique index does not count, and is named', () => {
    const report = diagnoseTable(target, tableCatalog('events', columns, [pk, uniqueIndex('events_live', ['event_id'], { partial: true })]), noDuplicates);
    expect(byCheck(report, 'unique index')[0]!.message).toContain('"events_live" is partial');
    expect(byCheck(report, 'other indexes')[0]).toMatchObject({ severity: 'warning', message: expect.stringContaining('is partial') });
  });

  test('an invalid matching index: drop it, then the fix', () => {
    const report = diagnoseTable(target, tableCatalog('events', columns, [pk, uniqueIndex('events_event_id_key', ['event_id'], { valid: false })]), noDuplicates);
    expect(byCheck(report, 'unique index')[0]!.fix).toEqual([
      'DROP INDEX CONCURRENTLY "public"."events_event_id_key";',
      'CREATE UNIQUE INDEX CONCURRENTLY "events_event_id_key" ON "public"."events" ("event_id");',
    ]);
  });

  test('nullable key without NULLS NOT DISTINCT: a warning with both fixes; NULL-key copies are not duplicates', () => {
    const cols = [column('k', 'text'), column('seq', 'int8'), column('_landfall_arrival', 'text')];
    const report = diagnoseTable({ ...target, key: ['k'] }, tableCatalog('events', cols, [uniqueIndex('events_k_key', ['k'])]), { ...noDuplicates, nullGroups: 2, nullSurplus: 5 });
    const [nulls] = byCheck(report, 'NULL keys');
    expect(nulls!.severity).toBe('warning');
    expect(nulls!.fix).toEqual(['ALTER TABLE "public"."events" ALTER COLUMN "k" SET NOT NULL;', '-- or, to store NULL keys as one key: CREATE UNIQUE INDEX CONCURRENTLY "events_k_key" ON "public"."events" ("k") NULLS NOT DISTINCT;']);
    expect(byCheck(report, 'duplicates').map((c) => c.severity)).toEqual(['ok', 'info']);
  });

  test('under NULLS NOT DISTINCT, NULL-key copies are duplicates', () => {
    const cols = [column('k', 'text'), column('seq', 'int8'), column('_landfall_arrival', 'text')];
    const report = diagnoseTable({ ...target, key: ['k'] }, tableCatalog('events', cols, []), { ...noDuplicates, nullGroups: 2, nullSurplus: 5 });
    expect(byCheck(report, 'duplicates')[0]).toMatchObject({ severity: 'error', message: expect.stringContaining('2 key(s)') });
    expect(byCheck(report, 'unique index')[0]!.fix[0]).toContain('--key k');
  });

  test.each([
    ['int8', 'ok'],
    ['timestamptz', 'ok'],
    ['text', 'warning'],
    ['jsonb', 'error'],
  ])('version column of type %s: %s', (type, severity) => {
    const cat = tableCatalog('events', [column('event_id', 'text', { notNull: true }), column('seq', type), column('_landfall_arrival', 'text')], [uniqueIndex('e', ['event_id'])]);
    expect(byCheck(diagnoseTable(target, cat, noDuplicates), 'version')[0]!.severity).toBe(severity);
  });

  test('no arrival column in upsert mode: a warning with the ALTER TABLE', () => {
    const cat = tableCatalog('events', columns.filter((c) => c.name !== '_landfall_arrival'), healthy.uniqueIndexes);
    expect(byCheck(diagnoseTable(target, cat, noDuplicates), 'arrival column')[0]).toMatchObject({
      severity: 'warning',
      fix: ['ALTER TABLE "public"."events" ADD COLUMN "_landfall_arrival" text COLLATE "C";'],
    });
    expect(byCheck(diagnoseTable({ ...target, mode: 'insert' }, cat, noDuplicates), 'arrival column')[0]!.severity).toBe('ok');
  });

  test('a missing table or key column is a finding, not an unchecked table', () => {
    expect(diagnoseTable(target, null, null)).toMatchObject({ status: 'findings', checks: [{ check: 'table', severity: 'error' }] });
    const report = diagnoseTable({ ...target, key: ['nope'] }, healthy, null);
    expect(byCheck(report, 'key columns')[0]!.severity).toBe('error');
  });

  test('an estimate without duplicates is a warning, never healthy', () => {
    const report = diagnoseTable(target, healthy, { ...noDuplicates, exact: false, estimate: { rows: 2e7, distinctKeys: 2e7 } });
    expect(byCheck(report, 'duplicates')[0]!.severity).toBe('warning');
  });
});

describe('withBlockedCheck: doctor agrees with status on "blocked"', () => {
  const refusal = { code: 'sqlstate 42501', reason: 'permission denied for table events', fix: 'landfall grant-role --config F', firstSeen: '2026-12-01T00:00:00Z', lastSeen: '2026-12-01T00:05:00Z', attempts: 4 };

  test('a table the consumer refuses is an error with the recorded reason and fix, even when the catalog checks pass', () => {
    const report = withBlockedCheck(diagnoseTable(target, healthy, noDuplicates), refusal);

    expect(byCheck(report, 'blocked')).toEqual([
      { check: 'blocked', severity: 'error', message: expect.stringContaining('(sqlstate 42501, since 2026-12-01T00:00:00Z, 4 refusal(s), last 2026-12-01T00:05:00Z): permission denied for table events; the checks above pass now'), fix: ['landfall grant-role --config F'] },
    ]);
    expect(report.status).toBe('findings');
    expect(doctorExitCode([report])).toBe(1);
  });

  test('a table not refused gets an ok check and stays healthy', () => {
    const report = withBlockedCheck(diagnoseTable(target, healthy, noDuplicates), null);

    expect(byCheck(report, 'blocked')).toMatchObject([{ severity: 'ok' }]);
    expect(report.status).toBe('healthy');
  });

  test('an unchecked table is left as it is', () => {
    const report = uncheckedReport(target, 'connection refused');

    expect(withBlockedCheck(report, refusal)).toBe(report);
  });
});

describe('doctorExitCode', () => {
  test('the worst table decides: unchecked 2 > findings 1 > healthy 0', () => {
    const ok = diagnoseTable(target, healthy, noDuplicates);
    const bad = diagnoseTable(target, null, null);
    const unchecked = uncheckedReport(target, 'connection refused');
    expect(doctorExitCode([])).toBe(0);
    expect(doctorExitCode([ok, ok])).toBe(0);
    expect(doctorExitCode([ok, bad])).toBe(1);
    expect(doctorExitCode([ok, bad, unchecked])).toBe(2);
  });

  test('warnings alone exit 0: only an error is something to fix', () => {
    const warned = diagnoseTable(target, healthy, { ...noDuplicates, exact: false, estimate: { rows: 2e7, distinctKeys: 2e7 } });
    expect(warned.status).toBe('findings');
    expect(doctorExitCode([warned])).toBe(0);
  });
});

describe('formatDoctorReport', () => {
  test('one line per check, the fixes, a verdict', () => {
    const text = formatDoctorReport([diagnoseTable(target, tableCatalog('events', columns, [pk]), noDuplicates), uncheckedReport({ ...target, table: 'other' }, 'permission denied')]);
    expect(text).toMatch(/^TABLE\s+CHECK\s+RESULT\s+DETAIL$/m);
    expect(text).toMatch(/^events\s+unique index\s+FAIL\s+none matches/m);
    expect(text).toMatch(/^other\s+-\s+ERROR\s+could not check: permission denied$/m);
    expect(text).toContain('Fixes:\n  -- events: unique index\n  CREATE UNIQUE INDEX CONCURRENTLY "events_event_id_key" ON "public"."events" ("event_id");');
    expect(text).toContain('2 table(s): 0 healthy, 1 with findings, 1 not checked');
  });
});

describe('diagnoseTable: key partitioning', () => {
  const keyed = (key: ReturnType<typeof column>, extra: ReturnType<typeof column>[] = []) =>
    tableCatalog('events', [key, column('seq', 'int8'), ...extra], [uniqueIndex('events_pkey', [key.name], { primary: true, constraint: 'events_pkey' })]);
  const t = (key: string): DoctorTarget => ({ ...target, key: [key] });

  test('a key type canonicalised exactly is ok, with how', () => {
    const [check] = byCheck(diagnoseTable(t('event_id'), keyed(column('event_id', 'int8', { notNull: true, type: 'bigint' })), noDuplicates), 'key partitioning');
    expect(check).toMatchObject({ severity: 'ok', message: '"event_id": integer value' });
  });

  test('a key type that is not canonicalised is a warning that names the type, with the arrival column as the fix', () => {
    const [check] = byCheck(diagnoseTable(t('event_id'), keyed(column('event_id', 'interval', { notNull: true })), noDuplicates), 'key partitioning');
    expect(check).toMatchObject({ severity: 'warning', message: expect.stringContaining('"event_id": type interval is not canonicalised') });
    expect(check!.fix).toEqual(['ALTER TABLE "public"."events" ADD COLUMN "_landfall_arrival" text COLLATE "C";']);
  });

  test('with the arrival column there, the warning says it still decides ties', () => {
    const catalog = keyed(column('event_id', 'bytea', { notNull: true }), [column('_landfall_arrival', 'text')]);
    const [check] = byCheck(diagnoseTable(t('event_id'), catalog, noDuplicates), 'key partitioning');
    expect(check).toMatchObject({ severity: 'warning', message: expect.stringContaining('"_landfall_arrival" still decides their ties'), fix: [] });
  });

  test('timestamptz in a session zone this runtime does not know is a warning; in one it knows, ok', () => {
    const catalog = (timeZone: string) => ({ ...keyed(column('event_id', 'timestamptz', { notNull: true, type: 'timestamp with time zone' }), [column('_landfall_arrival', 'text')]), timeZone });
    expect(byCheck(diagnoseTable(t('event_id'), catalog('Mars/Olympus_Mons'), noDuplicates), 'key partitioning')[0]!.severity).toBe('warning');
    expect(byCheck(diagnoseTable(t('event_id'), catalog('Europe/Paris'), noDuplicates), 'key partitioning')[0]!.severity).toBe('ok');
  });
});
