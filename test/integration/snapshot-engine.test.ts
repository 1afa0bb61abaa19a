import { describe, expect, test } from 'vitest';
import { snapshotKeysRelationOf, snapshotScopesRelationOf } from '../../shared/core/snapshot-plan.ts';
import { applyBatch } from '../../shared/postgres/apply-batch.ts';
import { replayBatch } from '../../shared/postgres/replay-batch.ts';
import { fileReceipts } from '../../shared/postgres/ledger/files.ts';
import { snapshotFile as ledgerRow } from '../../shared/postgres/ledger/snapshot-files.ts';
import { removeMissing } from '../../shared/postgres/snapshot-removal.ts';
import type { TargetTable } from '../../shared/postgres/target-table.ts';
import { TableConfigError } from '../../shared/postgres/target-table.ts';
import { makeBatch } from '../helpers/batches.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { prepare } from '../helpers/engine.ts';
import { applyFileRows, at, type Row, snapshotFile } from '../helpers/snapshots.ts';

const { sql } = await createTestDatabase();

/** `name (task int, photo int, url text, arrival)`, key (task, photo), one scope per task. */
async function photos(name: string, extra: { soft?: boolean; share?: number; version?: boolean } = {}): Promise<TargetTable> {
  await sql.unsafe(`CREATE TABLE ${name} (task int NOT NULL, photo int NOT NULL, url text, v int, deleted_at timestamptz, _landfall_arrival text COLLATE "C", PRIMARY KEY (task, photo))`);
  return prepare(sql, {
    table: name,
    conflictKey: ['task', 'photo'],
    mode: 'snapshot',
    scope: ['task'],
    ...(extra.version ? { version: 'v' } : {}),
    missing: { ...(extra.soft ? { softDelete: 'deleted_at' } : {}), ...(extra.share !== undefined ? { maxRemovedShare: extra.share } : {}) },
  });
}

const photo = (task: number, id: number, url = `p${task}-${id}`, v?: number): Row => ({ task: String(task), photo: String(id), url, ...(v !== undefined ? { v: String(v) } : {}) });
const rowsOf = (table: string) => sql.unsafe<{ task: number; photo: number; url: string }[]>(`SELECT task, photo, url FROM ${table} ORDER BY task, photo`).then((r) => r.map((x) => `${x.task}/${x.photo}:${x.url}`));

describe('per-parent scope', () => {
  test('a second file replaces the children of the parents it names, and only theirs', async () => {
    const t = await photos('ph_parent', { share: 1 });
    const first = await snapshotFile(sql, t, [photo(1, 1), photo(1, 2), photo(1, 3), photo(2, 1), photo(2, 2)], { file: { eventTime: at(1) } });
    expect(first.outcome).toMatchObject({ state: 'done', removed: 0, scopes: 2 });

    const second = await snapshotFile(sql, t, [photo(1, 1), photo(1, 3, 'new'), photo(1, 4)], { file: { eventTime: at(2) } });

    expect(second.outcome).toMatchObject({ state: 'done', removed: 1, scopes: 1, superseded: 0 });
    expect(await rowsOf('ph_parent')).toEqual(['1/1:p1-1', '1/3:new', '1/4:p1-4', '2/1:p2-1', '2/2:p2-2']);
    const [receipt] = await fileReceipts(sql, { fileIds: [second.fileId] });
    expect(receipt).toMatchObject({ status: 'complete', read: 3, inserted: 1, updated: 1, unchanged: 1, removed: 1 });
  });

  test('a removal runs once: a second call, or one after a crash that lost nothing, removes nothing more', async () => {
    const t = await photos('ph_once', { share: 1 });
    await snapshotFile(sql, t, [photo(1, 1), photo(1, 2)], { file: { eventTime: at(1) } });
    const second = await snapshotFile(sql, t, [photo(1, 1)], { file: { eventTime: at(2) } });
    expect(second.outcome).toMatchObject({ state: 'done', removed: 1 });
    // Someone stores the removed row again by hand; a repeated removal must not remove it.
    await sql`INSERT INTO ph_once (task, photo, url) VALUES (1, 2, 'by hand')`;

    const again = await removeMissing(sql, t, second.fileId);

    expect(again).toMatchObject({ state: 'done', removed: 1, already: true });
    expect(await rowsOf('ph_once')).toEqual(['1/1:p1-1', '1/2:by hand']);
  });

  test('the removal waits for the last batch', async () => {
    const t = await photos('ph_wait', { share: 1 });
    const rows = [photo(1, 1), photo(1, 2), photo(1, 3)];
    const applied = await applyFileRows(sql, t, rows, { batchRows: 1 });
    // Pretend the last batch is not applied yet.
    await sql`DELETE FROM landfall.batches WHERE batch_id = ${applied.batches[2]!.batchId}`;
    expect(await removeMissing(sql, t, applied.fileId)).toEqual({ state: 'waiting' });
    expect((await fileReceipts(sql, { fileIds: [applied.fileId] }))[0]!.status).toBe('pending');
  });

  test("a file's batches applied at once (its partitions' first batches race for its ledger row) all record their keys", async () => {
    const t = await photos('ph_race', { share: 1 });
    await snapshotFile(sql, t, Array.from({ length: 40 }, (_, i) => photo(1, i)));
    const applied = await applyFileRows(sql, t, Array.from({ length: 36 }, (_, i) => photo(1, i)), { batchRows: 3, apply: false });
    const results = await Promise.all(applied.batches.map((b) => applyBatch(sql, t, b)));
    expect(results.every((r) => r.status === 'applied')).toBe(true);
    expect(await removeMissing(sql, t, applied.fileId)).toMatchObject({ state: 'done', removed: 4 });
  });

  test('keys are forgotten once the removal ran', async () => {
    const t = await photos('ph_forget', { share: 1 });
    const f = await snapshotFile(sql, t, [photo(1, 1)]);
    const keys = snapshotKeysRelationOf({ schema: 'public', name: 'ph_forget' }).quoted;
    expect(f.outcome).toMatchObject({ state: 'done' });
    expect(await sql.unsafe(`SELECT count(*)::int AS n FROM ${keys}`)).toEqual([{ n: 0 }]);
    expect(await sql`SELECT keys_forgotten FROM landfall.snapshot_files WHERE file_id = ${f.fileId}`).toEqual([{ keys_forgotten: true }]);
  });
});

describe('order: a snapshot never removes what a newer file wrote', () => {
  test('a late older snapshot removes nothing in the scopes a newer one settled, and its rows are stale', async () => {
    const t = await photos('ph_late', { share: 1 });
    await snapshotFile(sql, t, [photo(1, 1), photo(1, 2), photo(2, 1)], { file: { eventTime: at(1) } });
    const newer = await snapshotFile(sql, t, [photo(1, 1), photo(1, 3, 'newest')], { file: { eventTime: at(3) } });
    expect(newer.outcome).toMatchObject({ removed: 1 });

    // The file of minute 2 arrives last: it holds photo 1/2 (removed by the newer one) and not 1/3.
    const late = await snapshotFile(sql, t, [photo(1, 1, 'older'), photo(1, 2, 'older'), photo(2, 2)], { file: { eventTime: at(2) } });

    expect(late.outcome).toMatchObject({ state: 'done', removed: 1, scopes: 2, superseded: 1 });
    // Task 1 is as the newer file left it; task 2 (which only the late file and the first name) is the late file's.
    expect(await rowsOf('ph_late')).toEqual(['1/1:p1-1', '1/3:newest', '2/2:p2-2']);
    const [receipt] = await fileReceipts(sql, { fileIds: [late.fileId] });
    expect(receipt).toMatchObject({ read: 3, stale: 2, inserted: 1, removed: 1 });
  });

  test('a row an incremental file wrote after the snapshot (a later arrival) stays', async () => {
    await sql`CREATE TABLE ph_incr (task int NOT NULL, photo int NOT NULL, url text, _landfall_arrival text COLLATE "C", PRIMARY KEY (task, photo))`;
    const t = await prepare(sql, { table: 'ph_incr', conflictKey: ['task', 'photo'], mode: 'snapshot', scope: ['task'], incrementalPrefix: 'ph_incr/changes/', missing: { maxRemovedShare: 1 } });
    await snapshotFile(sql, t, [photo(1, 1), photo(1, 2)], { file: { key: 'ph_incr/a.csv', eventTime: at(1) } });
    // An incremental file of minute 5 adds photo 1/9 before the snapshot of minute 4 is applied.
    const incremental = await snapshotFile(sql, t, [photo(1, 9)], { file: { key: 'ph_incr/changes/b.csv', eventTime: at(5) } });
    expect(incremental.outcome).toEqual({ state: 'not-a-snapshot' });
    expect(await ledgerRow(sql, incremental.fileId)).toBeNull();

    const snap = await snapshotFile(sql, t, [photo(1, 1)], { file: { key: 'ph_incr/c.csv', eventTime: at(4) } });

    expect(snap.outcome).toMatchObject({ state: 'done', removed: 1 });
    expect(await rowsOf('ph_incr')).toEqual(['1/1:p1-1', '1/9:p1-9']);
  });
});

describe('whole table and per-day scopes', () => {
  test('scope [] covers the whole table', async () => {
    await sql`CREATE TABLE ph_all (id int PRIMARY KEY, name text, _landfall_arrival text COLLATE "C")`;
    const t = await prepare(sql, { table: 'ph_all', conflictKey: ['id'], mode: 'snapshot', scope: [], missing: { maxRemovedShare: 1 } });
    await snapshotFile(sql, t, Array.from({ length: 10 }, (_, i) => ({ id: String(i), name: `n${i}` })), { batchRows: 3 });
    const f = await snapshotFile(sql, t, [{ id: '3', name: 'n3' }, { id: '11', name: 'n11' }], { batchRows: 1 });
    expect(f.outcome).toMatchObject({ state: 'done', removed: 9, scopes: 1 });
    expect(await sql`SELECT id FROM ph_all ORDER BY id`).toEqual([{ id: 3 }, { id: 11 }]);
  });

  test('scope ["day"] (not part of the key) covers each day the file names', async () => {
    await sql`CREATE TABLE ph_day (id int PRIMARY KEY, day date NOT NULL, amount int, _landfall_arrival text COLLATE "C")`;
    const t = await prepare(sql, { table: 'ph_day', conflictKey: ['id'], mode: 'snapshot', scope: ['day'], missing: { maxRemovedShare: 1 } });
    const r = (id: number, day: string) => ({ id: String(id), day, amount: '1' });
    await snapshotFile(sql, t, [r(1, '2026-06-01'), r(2, '2026-06-01'), r(3, '2026-06-02'), r(4, '2026-06-02')]);
    const f = await snapshotFile(sql, t, [r(1, '2026-06-01'), r(5, '20260601')]);
    expect(f.outcome).toMatchObject({ state: 'done', removed: 1, scopes: 1 });
    expect(await sql`SELECT id FROM ph_day ORDER BY id`).toEqual([{ id: 1 }, { id: 3 }, { id: 4 }, { id: 5 }]);
  });
});

describe('soft delete', () => {
  test('marks missing rows with the file time once, and a later file that holds the key clears it', async () => {
    const t = await photos('ph_soft', { soft: true, share: 1 });
    await snapshotFile(sql, t, [photo(1, 1), photo(1, 2)], { file: { eventTime: at(1) } });
    const second = await snapshotFile(sql, t, [photo(1, 1)], { file: { eventTime: at(2) } });
    expect(second.outcome).toMatchObject({ removed: 1 });
    expect(await sql`SELECT photo, deleted_at FROM ph_soft ORDER BY photo`).toEqual([
      { photo: 1, deleted_at: null },
      { photo: 2, deleted_at: new Date(at(2)) },
    ]);
    // Missing again: already marked, not counted again.
    const third = await snapshotFile(sql, t, [photo(1, 1)], { file: { eventTime: at(3) } });
    expect(third.outcome).toMatchObject({ removed: 0 });

    // The key comes back with the same values: the row is written (its mark cleared), not unchanged.
    const revived = await snapshotFile(sql, t, [photo(1, 1), photo(1, 2)], { file: { eventTime: at(4) } });

    expect(revived.outcome).toMatchObject({ removed: 0 });
    expect((await fileReceipts(sql, { fileIds: [revived.fileId] }))[0]).toMatchObject({ updated: 1, unchanged: 1 });
    expect(await sql`SELECT photo, deleted_at FROM ph_soft ORDER BY photo`).toEqual([
      { photo: 1, deleted_at: null },
      { photo: 2, deleted_at: null },
    ]);
  });

  test('a late older file does not bring a soft-deleted row back', async () => {
    const t = await photos('ph_soft_late', { soft: true, share: 1 });
    await snapshotFile(sql, t, [photo(1, 1), photo(1, 2)], { file: { eventTime: at(1) } });
    await snapshotFile(sql, t, [photo(1, 1)], { file: { eventTime: at(3) } });
    const late = await snapshotFile(sql, t, [photo(1, 1), photo(1, 2, 'older')], { file: { eventTime: at(2) } });
    expect(late.outcome).toMatchObject({ removed: 0, superseded: 1 });
    expect(await sql`SELECT photo, url, deleted_at IS NOT NULL AS gone FROM ph_soft_late ORDER BY photo`).toEqual([
      { photo: 1, url: 'p1-1', gone: false },
      { photo: 2, url: 'p1-2', gone: true },
    ]);
  });
});

describe('with the merge form of the statement (objects that omit keys, merge rules)', () => {
  test('revives, keeps what an object omits, and a late older file is stale in the merge form as in the plain one', async () => {
    await sql.unsafe(`CREATE TABLE ph_merge (task int NOT NULL, photo int NOT NULL, url text, caption text, deleted_at timestamptz, _landfall_arrival text COLLATE "C", PRIMARY KEY (task, photo))`);
    const t = await prepare(sql, { table: 'ph_merge', conflictKey: ['task', 'photo'], mode: 'snapshot', scope: ['task'], merge: { caption: 'ignoreNull' }, missing: { softDelete: 'deleted_at', maxRemovedShare: 1 } });
    const shot = (rows: Row[], minute: number) => snapshotFile(sql, t, rows, { file: { eventTime: at(minute) }, objects: true });
    await shot([{ task: '1', photo: '1', url: 'a', caption: 'first' }, { task: '1', photo: '2', url: 'b', caption: 'second' }], 1);
    expect((await shot([{ task: '1', photo: '1', url: 'a', caption: 'first' }], 2)).outcome).toMatchObject({ removed: 1 });

    // Photo 2 comes back without its url (absent) and with a NULL caption (ignoreNull): its mark
    // is cleared and both stored values stay; photo 1's caption stays too.
    const back = await shot([{ task: '1', photo: '1', url: 'a2', caption: null }, { task: '1', photo: '2', caption: null }], 3);
    expect(back.outcome).toMatchObject({ removed: 0 });
    expect((await fileReceipts(sql, { fileIds: [back.fileId] }))[0]).toMatchObject({ read: 2, updated: 2, stale: 0 });
    // A file from before the last snapshot: stale, whatever it carries, and it removes nothing.
    const late = await shot([{ task: '1', photo: '1', caption: 'late' }, { task: '1', photo: '3', url: 'c' }], 0);
    expect((await fileReceipts(sql, { fileIds: [late.fileId] }))[0]).toMatchObject({ read: 2, stale: 2, inserted: 0, updated: 0 });
    expect(await sql`SELECT photo, url, caption, deleted_at FROM ph_merge ORDER BY photo`).toEqual([
      { photo: 1, url: 'a2', caption: 'first', deleted_at: null },
      { photo: 2, url: 'b', caption: 'second', deleted_at: null },
    ]);
  });
});

describe('guards', () => {
  test('more than maxRemovedShare of a scope: held with the numbers, nothing removed; confirmed, removed', async () => {
    const t = await photos('ph_share');
    await snapshotFile(sql, t, [photo(1, 1), photo(1, 2), photo(1, 3), photo(1, 4), photo(2, 1), photo(2, 2)]);
    const f = await snapshotFile(sql, t, [photo(1, 1), photo(2, 1), photo(2, 2)]);

    expect(f.outcome).toMatchObject({ state: 'held', code: 'snapshot-share' });
    const held = f.outcome.state === 'held' ? f.outcome : null;
    expect(held!.numbers).toMatchObject({ scopes: 2, stored: 6, removed: 3, over: 1, maxRemovedShare: 0.5, worst: { scope: { task: 1 }, stored: 4, removed: 3 } });
    expect(held!.reason).toContain('3 of 4 stored rows (75%) of task=1');
    expect(await sql`SELECT count(*)::int AS n FROM ph_share`).toEqual([{ n: 6 }]);
    const [receipt] = await fileReceipts(sql, { fileIds: [f.fileId] });
    expect(receipt).toMatchObject({ status: 'held', reasonCode: 'snapshot-share', removed: 0, fix: expect.stringContaining('landfall snapshot confirm') });
    // Held stays held: the consumer's next try changes nothing.
    expect(await removeMissing(sql, t, f.fileId)).toMatchObject({ state: 'held' });

    const confirmed = await removeMissing(sql, t, f.fileId, { force: true, by: 'confirm' });

    expect(confirmed).toMatchObject({ state: 'done', removed: 3 });
    expect(await sql`SELECT count(*)::int AS n FROM ph_share`).toEqual([{ n: 3 }]);
    expect((await ledgerRow(sql, f.fileId))!.confirmedBy).toBe('confirm');
  });

  test('an empty file is held: a whole-table snapshot would remove everything', async () => {
    await sql`CREATE TABLE ph_empty (id int PRIMARY KEY, _landfall_arrival text COLLATE "C")`;
    const t = await prepare(sql, { table: 'ph_empty', conflictKey: ['id'], mode: 'snapshot', scope: [], missing: { maxRemovedShare: 1 } });
    await snapshotFile(sql, t, [{ id: '1' }, { id: '2' }]);
    const f = await snapshotFile(sql, t, [], { columns: ['id'] });
    expect(f.outcome).toMatchObject({ state: 'held', code: 'snapshot-empty', numbers: { removed: 2, stored: 2 } });
    expect(await removeMissing(sql, t, f.fileId, { force: true })).toMatchObject({ state: 'done', removed: 2 });
  });

  test('rejected lines hold the removal (their keys are unknown)', async () => {
    const t = await photos('ph_rejects', { share: 1 });
    await snapshotFile(sql, t, [photo(1, 1), photo(1, 2)]);
    const f = await snapshotFile(sql, t, [photo(1, 1)], { rejected: 1 });
    expect(f.outcome).toMatchObject({ state: 'held', code: 'snapshot-rejects', numbers: { rejected: 1, removed: 1 } });
    expect(await sql`SELECT count(*)::int AS n FROM ph_rejects`).toEqual([{ n: 2 }]);
  });

  test('a quarantined row still counts as present; one whose key does not cast holds the removal', async () => {
    await sql`CREATE TABLE ph_q (task int NOT NULL, photo int NOT NULL, url text CHECK (url <> 'bad'), _landfall_arrival text COLLATE "C", PRIMARY KEY (task, photo))`;
    const t = await prepare(sql, { table: 'ph_q', conflictKey: ['task', 'photo'], mode: 'snapshot', scope: ['task'], missing: { maxRemovedShare: 1 } });
    await snapshotFile(sql, t, [photo(1, 1), photo(1, 2), photo(1, 3)]);
    // Photo 2 is quarantined by the CHECK (through replay's isolation): its stored row stays.
    const applied = await applyFileRows(sql, t, [photo(1, 1), photo(1, 2, 'bad')], { apply: false });
    await expect(applyBatch(sql, t, applied.batches[0]!)).rejects.toThrow(/check constraint/);
    await replayBatch(sql, t, applied.batches[0]!);
    expect(await removeMissing(sql, t, applied.fileId)).toMatchObject({ state: 'done', removed: 1 });
    expect(await sql`SELECT photo, url FROM ph_q ORDER BY photo`).toEqual([{ photo: 1, url: 'p1-1' }, { photo: 2, url: 'p1-2' }]);

    // A key that does not cast: held.
    const bad = await applyFileRows(sql, t, [photo(1, 1), { task: '1', photo: 'two', url: 'x' }], { apply: false });
    await replayBatch(sql, t, bad.batches[0]!);
    expect(await removeMissing(sql, t, bad.fileId)).toMatchObject({ state: 'held', code: 'snapshot-rejects', numbers: { keyless: 1 } });
  });
});

describe('set-up', () => {
  test('a snapshot table without the arrival column is refused with the ALTER TABLE that fixes it', async () => {
    await sql`CREATE TABLE ph_noarrival (id int PRIMARY KEY)`;
    await expect(prepare(sql, { table: 'ph_noarrival', conflictKey: ['id'], mode: 'snapshot', scope: [] })).rejects.toThrow(TableConfigError);
    await expect(prepare(sql, { table: 'ph_noarrival', conflictKey: ['id'], mode: 'snapshot', scope: [] })).rejects.toThrow(/ALTER TABLE "public"."ph_noarrival" ADD COLUMN "_landfall_arrival" text COLLATE "C"/);
  });

  test('keys and scopes tables copy the target types; a batch without the scope column is refused', async () => {
    const t = await photos('ph_shape', { share: 1 });
    expect(t.snapshot).toEqual({ keys: snapshotKeysRelationOf(t.catalog.table).quoted, scopes: snapshotScopesRelationOf(t.catalog.table).quoted });
    await expect(applyBatch(sql, t, makeBatch({ table: 'ph_shape', rows: [{ photo: '1', url: 'x' }] }))).rejects.toThrow(/conflict key|scope/);
  });
});
