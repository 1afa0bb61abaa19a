import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { snapshotConfirmCommand } from '../../cli/commands/snapshot.ts';
import { statusCommand } from '../../cli/commands/status.ts';
import { type BatchMessage, manifestBatchMessageOf } from '../../shared/core/batch-message.ts';
import { parseConfig } from '../../shared/core/config.ts';
import { manifestKeyOf } from '../../shared/core/keys.ts';
import { replayBatchMessage } from '../../shared/consumer/consume-batch.ts';
import { dropFile, tableForFile, waitForFile } from '../../shared/local/run-files.ts';
import { fileReceipts } from '../../shared/postgres/ledger/files.ts';
import { captureIo } from '../helpers/cli.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { startTestStack } from '../helpers/local-stack.ts';
import { csvOf, type Row } from '../helpers/producer-files.ts';
import { randomFile, seeded, SnapshotModel } from '../helpers/snapshot-model.ts';
import { fileArrivalOf } from '../../shared/core/batch.ts';

/**
 * Snapshot files through the whole local stack (producer, FIFO partitions, consumer, replay, the
 * CLI): a file that is the whole truth for its scope removes what it no longer holds, once,
 * after its last batch, whatever order the partitions finish in.
 */
const db = await createTestDatabase();
const { sql } = db;
const photos = (name: string, extra: Record<string, unknown> = {}) => ({ table: name, conflictKey: ['task_pk', 'photo_id'], mode: 'snapshot', scope: ['task_pk'], partitions: 3, ...extra });
const config = parseConfig({
  tables: [
    photos('task_photos'),
    { table: 'full_export', conflictKey: ['id'], mode: 'snapshot', scope: [], partitions: 2, missing: { maxRemovedShare: 0.9 } },
    { table: 'daily_totals', conflictKey: ['id'], mode: 'snapshot', scope: ['day'], partitions: 2, missing: { maxRemovedShare: 1 } },
    photos('soft_photos', { missing: { softDelete: 'deleted_at', maxRemovedShare: 1 } }),
    photos('crashy_photos', { missing: { maxRemovedShare: 1 } }),
    photos('late_photos', { missing: { maxRemovedShare: 1 } }),
    photos('oracle_photos', { incrementalPrefix: 'oracle_photos/changes/', missing: { maxRemovedShare: 1 } }),
  ],
  batch: { maxRows: 4, maxBytes: 1024 * 1024 },
});
for (const t of ['task_photos', 'soft_photos', 'crashy_photos', 'late_photos', 'oracle_photos']) {
  await sql.unsafe(`CREATE TABLE ${t} (task_pk int NOT NULL, photo_id int NOT NULL, url text, deleted_at timestamptz, _landfall_arrival text COLLATE "C", PRIMARY KEY (task_pk, photo_id))`);
}
await sql`CREATE TABLE full_export (id int PRIMARY KEY, name text, _landfall_arrival text COLLATE "C")`;
await sql`CREATE TABLE daily_totals (id int PRIMARY KEY, day date NOT NULL, amount int, _landfall_arrival text COLLATE "C")`;
// A crash between the last batch and the removal: the first removal of crashy_photos that would commit fails (as a lost connection would).
await sql`CREATE SEQUENCE crash_once`;
await sql`
  CREATE FUNCTION crash_before_removal() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF NEW.table_name = 'crashy_photos' AND NEW.state = 'done' AND NEW.removed > 0 THEN
      IF nextval('crash_once') = 1 THEN
        RAISE EXCEPTION 'test: the consumer died before its removal committed' USING ERRCODE = '57P01';
      END IF;
    END IF;
    RETURN NEW;
  END $$`;

let gate: { key: string; open: Promise<void>; release: () => void; held: () => boolean } | null = null;
const t = await startTestStack(config, db.url, {
  // Holds the producer's notification of one file (a late one) until the test lets it go.
  wrapHandler: (name, handler) =>
    name !== 'producer'
      ? handler
      : async (event, context) => {
          const g = gate;
          if (g && event.Records.some((r) => r.body.includes(g.key))) await g.open;
          return handler(event, context);
        },
});
// A second stack whose producer stops after every segment: each file is continued over several invocations.
const continuedConfig = parseConfig({ tables: [photos('continued_photos', { missing: { maxRemovedShare: 1 } })], batch: { maxRows: 10, maxBytes: 1024 * 1024 } });
await sql`CREATE TABLE continued_photos (task_pk int NOT NULL, photo_id int NOT NULL, url text, deleted_at timestamptz, _landfall_arrival text COLLATE "C", PRIMARY KEY (task_pk, photo_id))`;
const continued = await startTestStack(continuedConfig, db.url, { producer: { timeoutMs: 1, limits: { segmentBytes: 400 } } });
await sql`CREATE TRIGGER crash_before_removal BEFORE UPDATE ON landfall.snapshot_files FOR EACH ROW EXECUTE FUNCTION crash_before_removal()`;
const configPath = join(t.dir, 'landfall.json');
writeFileSync(configPath, JSON.stringify(config));

const photo = (task: number, id: number, url = `p${task}-${id}`): Row => ({ task_pk: task, photo_id: id, url });
const rowsOf = async (table: string) =>
  (await sql.unsafe<{ k: string }[]>(`SELECT task_pk || '/' || photo_id || ':' || url || CASE WHEN deleted_at IS NULL THEN '' ELSE ' deleted' END AS k FROM ${table} ORDER BY task_pk, photo_id`)).map((r) => r.k);
const drop = (table: string, name: string, rows: Row[], columns?: string[]) => t.run(t.file(name, csvOf(rows, columns ? { columns } : {})), table);
const cli = async (run: (io: ReturnType<typeof captureIo>) => Promise<number>) => {
  const io = captureIo();
  const code = await run(io);
  return { code, out: io.out(), err: io.err() };
};

describe('per-parent scope', () => {
  test("a second file replaces the photos of the tasks it names, and leaves other tasks' photos alone", async () => {
    const first = await drop('task_photos', 'photos-1.csv', [photo(1, 1), photo(1, 2), photo(1, 3), photo(2, 1), photo(2, 2), photo(3, 1)]);
    expect(first).toMatchObject({ status: 'complete', read: 6, inserted: 6, removed: 0, addsUp: true });
    expect(first.batches).toBeGreaterThan(1);

    // Task 1 now has photos 1, 3 (new url) and 4; photo 2 was removed upstream. Task 2 loses photo 2.
    const second = await drop('task_photos', 'photos-2.csv', [photo(1, 1), photo(1, 3, 'p1-3b'), photo(1, 4), photo(2, 1)]);

    expect(second).toMatchObject({ status: 'complete', read: 4, inserted: 1, updated: 1, unchanged: 2, removed: 2, addsUp: true });
    expect(await rowsOf('task_photos')).toEqual(['1/1:p1-1', '1/3:p1-3b', '1/4:p1-4', '2/1:p2-1', '3/1:p3-1']);
    const status = await cli((io) => statusCommand(undefined, { databaseUrl: db.url, json: true }, io));
    const listed = (JSON.parse(status.out) as { files: { key: string; removed: number; status: string }[] }).files.find((f) => f.key === 'task_photos/photos-2.csv');
    expect(listed).toMatchObject({ status: 'complete', removed: 2 });
  });

  test('more than maxRemovedShare of a task: held with the numbers and the command; landfall snapshot confirm goes ahead', async () => {
    await drop('task_photos', 'guard-1.csv', [photo(7, 1), photo(7, 2), photo(7, 3), photo(7, 4)]);

    const held = await drop('task_photos', 'guard-2.csv', [photo(7, 1)]);

    expect(held).toMatchObject({ status: 'held', reasonCode: 'snapshot-share', removed: 0, addsUp: true, fix: 'landfall snapshot confirm task_photos/guard-2.csv' });
    expect(held.reason).toContain('3 of 4 stored rows (75%) of task_pk=7');
    expect(await rowsOf('task_photos')).toContain('7/4:p7-4');
    const text = await cli((io) => statusCommand(undefined, { databaseUrl: db.url }, io));
    expect(text.out).toMatch(/held: task_photos\/guard-2\.csv: .*go ahead: landfall snapshot confirm task_photos\/guard-2\.csv/);

    const confirmed = await cli((io) => snapshotConfirmCommand('task_photos/guard-2.csv', { config: configPath, databaseUrl: db.url }, io));

    expect(confirmed).toMatchObject({ code: 0 });
    expect(confirmed.out).toContain('removed 3 rows of 4 stored in 1 scope');
    expect((await rowsOf('task_photos')).filter((r) => r.startsWith('7/'))).toEqual(['7/1:p7-1']);
    const [receipt] = await fileReceipts(sql, { key: 'task_photos/guard-2.csv' });
    expect(receipt).toMatchObject({ status: 'complete', removed: 3 });
    // A second confirm removes nothing more.
    expect((await cli((io) => snapshotConfirmCommand('task_photos/guard-2.csv', { config: configPath, databaseUrl: db.url }, io))).out).toContain('ran before (3 rows removed)');
  });

  test('a file with a rejected line is held (its key is unknown); dropped again with --force, it goes ahead', async () => {
    await drop('task_photos', 'rejects-1.csv', [photo(8, 1), photo(8, 2), photo(8, 3)]);
    const path = t.file('rejects-2.csv', `task_pk,photo_id,url\n8,1,p8-1\n8,3,p8-3\n8,2\n`);

    const held = await t.run(path, 'task_photos');

    expect(held).toMatchObject({ status: 'held', reasonCode: 'snapshot-rejects', rejected: 1, removed: 0 });
    expect(held.held).toMatchObject({ rejected: 1, removed: 1, stored: 3 });
    const again = await dropFile(t.target, path, tableForFile(config, path, 'task_photos'), { force: true });
    const forced = await waitForFile(t.target, again, { timeoutMs: 60_000 });
    expect(forced).toMatchObject({ status: 'complete', removed: 1 });
    expect((await rowsOf('task_photos')).filter((r) => r.startsWith('8/'))).toEqual(['8/1:p8-1', '8/3:p8-3']);
  });
});

describe('whole table and per-day scopes', () => {
  test('scope []: the file is the whole table; an empty file is held, confirmed it empties the table', async () => {
    const names = (n: number) => Array.from({ length: n }, (_, i) => ({ id: i + 1, name: `n${i + 1}` }));
    await drop('full_export', 'export-1.csv', names(10));
    const second = await drop('full_export', 'export-2.csv', names(10).filter((r) => r.id % 3 !== 0));
    expect(second).toMatchObject({ status: 'complete', read: 7, unchanged: 7, removed: 3 });
    expect(await sql`SELECT count(*)::int AS n FROM full_export`).toEqual([{ n: 7 }]);

    const empty = await t.run(t.file('export-3-empty.csv', 'id,name\n'), 'full_export');

    expect(empty).toMatchObject({ status: 'held', reasonCode: 'snapshot-empty', read: 0, removed: 0 });
    expect(empty.held).toMatchObject({ stored: 7, removed: 7 });
    expect(await sql`SELECT count(*)::int AS n FROM full_export`).toEqual([{ n: 7 }]);
    const confirmed = await cli((io) => snapshotConfirmCommand('export-3-empty.csv', { config: configPath, databaseUrl: db.url }, io));
    expect(confirmed.code).toBe(0);
    expect(await sql`SELECT count(*)::int AS n FROM full_export`).toEqual([{ n: 0 }]);
  });

  test('scope ["day"]: each day the file names is replaced, other days stay', async () => {
    const day = (id: number, d: string, amount = 1): Row => ({ id, day: d, amount });
    await drop('daily_totals', 'days-1.csv', [day(1, '2026-06-01'), day(2, '2026-06-01'), day(3, '2026-06-02'), day(4, '2026-06-03')]);
    const second = await drop('daily_totals', 'days-2.csv', [day(2, '2026-06-01', 5), day(5, '2026-06-02')]);
    expect(second).toMatchObject({ status: 'complete', updated: 1, inserted: 1, removed: 2 });
    expect(await sql`SELECT id, to_char(day, 'YYYY-MM-DD') AS day, amount FROM daily_totals ORDER BY id`).toEqual([
      { id: 2, day: '2026-06-01', amount: 5 },
      { id: 4, day: '2026-06-03', amount: 1 },
      { id: 5, day: '2026-06-02', amount: 1 },
    ]);
  });
});

describe('soft delete', () => {
  test('a missing photo is marked deleted with the file time; a later file that holds it again clears the mark', async () => {
    await drop('soft_photos', 'soft-1.csv', [photo(1, 1), photo(1, 2), photo(1, 3)]);
    const second = await drop('soft_photos', 'soft-2.csv', [photo(1, 1), photo(1, 3)]);
    expect(second).toMatchObject({ removed: 1 });
    expect(await rowsOf('soft_photos')).toEqual(['1/1:p1-1', '1/2:p1-2 deleted', '1/3:p1-3']);
    const [file] = await fileReceipts(sql, { key: 'soft_photos/soft-2.csv' });
    const [marked] = await sql<{ at: string; event: string }[]>`
      SELECT s.deleted_at::text AS at, f.event_time::text AS event FROM soft_photos s, landfall.files f WHERE s.photo_id = 2 AND f.file_id = ${file!.fileId}`;
    expect(marked!.at).toBe(marked!.event);

    const revived = await drop('soft_photos', 'soft-3.csv', [photo(1, 1), photo(1, 2), photo(1, 3)]);

    expect(revived).toMatchObject({ updated: 1, unchanged: 2, removed: 0 });
    expect(await rowsOf('soft_photos')).toEqual(['1/1:p1-1', '1/2:p1-2', '1/3:p1-3']);
  });
});

describe('order', () => {
  test('a late older snapshot removes nothing a newer file wrote, and changes nothing in the tasks the newer one settled', async () => {
    await drop('late_photos', 'late-0.csv', [photo(1, 1), photo(1, 2), photo(2, 1)]);
    // The older file is dropped first, but its producer is held back until the newer one is done.
    let release = () => {};
    const open = new Promise<void>((resolve) => (release = resolve));
    gate = { key: 'late_photos/late-1-older.csv', open, release, held: () => true };
    const olderPath = t.file('late-1-older.csv', csvOf([photo(1, 1, 'older'), photo(1, 2, 'older'), photo(2, 2)]));
    const older = await dropFile(t.target, olderPath, tableForFile(config, olderPath, 'late_photos'));
    const newer = await drop('late_photos', 'late-2-newer.csv', [photo(1, 1), photo(1, 3, 'newest')]);
    expect(newer).toMatchObject({ status: 'complete', removed: 1, inserted: 1 });

    release();
    const late = await waitForFile(t.target, older, { timeoutMs: 60_000 });
    gate = null;

    // Task 1 is as the newer file left it (its photo 2 does not come back, photo 3 stays);
    // task 2, which only the older file names, is the older file's.
    expect(late).toMatchObject({ status: 'complete', read: 3, stale: 2, inserted: 1, removed: 1, addsUp: true });
    expect(await rowsOf('late_photos')).toEqual(['1/1:p1-1', '1/3:newest', '2/2:p2-2']);
  });
});

describe('exactly once', () => {
  test('a crash between the last batch and the removal: the redelivered message runs it, once; a replay of a batch removes nothing more', async () => {
    await drop('crashy_photos', 'crash-1.csv', [photo(1, 1), photo(1, 2), photo(1, 3), photo(2, 1), photo(2, 2)]);

    const second = await drop('crashy_photos', 'crash-2.csv', [photo(1, 1), photo(2, 2)]);

    expect(second).toMatchObject({ status: 'complete', removed: 3, addsUp: true });
    // The removal met the crash once (after the batches committed), and ran again on the redelivery.
    expect(await sql`SELECT last_value::int AS n, is_called FROM crash_once`).toEqual([{ n: 2, is_called: true }]);
    expect(await rowsOf('crashy_photos')).toEqual(['1/1:p1-1', '2/2:p2-2']);
    // Someone adds photo 1/9 by hand; replaying a batch of the file (as the DLQ's replay or
    // `landfall replay` would) applies nothing and removes nothing more.
    await sql`INSERT INTO crashy_photos (task_pk, photo_id, url) VALUES (1, 9, 'by hand')`;
    const manifestKey = manifestKeyOf('crashy_photos', second.fileId);
    const manifest = await t.stack.ports.readManifest(manifestKey);
    const message: BatchMessage = manifestBatchMessageOf(manifest, manifest.batches[0]!, { manifestKey, batchCount: manifest.batchCount });
    const outcome = await replayBatchMessage(t.stack.ports, message);
    expect(outcome.outcome).toBe('already-applied');
    expect(await rowsOf('crashy_photos')).toEqual(['1/1:p1-1', '1/9:by hand', '2/2:p2-2']);
    expect((await fileReceipts(sql, { key: 'crashy_photos/crash-2.csv' }))[0]).toMatchObject({ removed: 3 });
  });
});

describe('a producer continuation', () => {
  test('a snapshot file read over several invocations removes what it lacks, once, after its last batch', async () => {
    const rows = (skip: number) => Array.from({ length: 60 }, (_, i) => photo(Math.floor(i / 10), i % 10)).filter((r) => r.photo_id !== skip);
    const first = await continued.run(continued.file('cont-1.csv', csvOf(rows(-1))), 'continued_photos');
    expect(first).toMatchObject({ status: 'complete', inserted: 60, removed: 0 });

    const second = await continued.run(continued.file('cont-2.csv', csvOf(rows(4))), 'continued_photos');

    const manifest = await continued.stack.ports.readManifest(manifestKeyOf('continued_photos', second.fileId));
    expect(manifest.invocations).toBeGreaterThan(1);
    expect(second).toMatchObject({ status: 'complete', read: 54, unchanged: 54, removed: 6, addsUp: true });
    expect(await sql`SELECT count(*)::int AS n FROM continued_photos WHERE photo_id = 4`).toEqual([{ n: 0 }]);
    expect(await sql`SELECT count(*)::int AS n FROM landfall.snapshot_files WHERE file_id = ${second.fileId} AND state = 'done'`).toEqual([{ n: 1 }]);
  });
});

describe('randomized oracle through the local stack', () => {
  const SEED = Number(process.env.SNAPSHOT_SEED ?? Math.floor(Math.random() * 2 ** 31));
  test(`snapshots and incremental files, in order, against the model (SNAPSHOT_SEED=${SEED})`, async () => {
    console.log(`snapshot stack oracle: SNAPSHOT_SEED=${SEED}`);
    const random = seeded(SEED);
    const model = new SnapshotModel(false);
    for (let i = 0; i < 10; i++) {
      const snapshot = random() < 0.6;
      const rows = randomFile(random, { tasks: 3, photos: 4, snapshot });
      if (rows.length === 0) continue;
      const name = `${snapshot ? '' : 'changes/'}f${i}.csv`;
      const path = t.file(`oracle-${i}.csv`, csvOf(rows.map((r) => ({ ...r }))));
      // Dropped under the incremental prefix when it is not a snapshot.
      const table = tableForFile(config, path, 'oracle_photos');
      const dropped = await dropFile(t.target, path, { ...table, prefix: snapshot ? table.prefix : `${table.prefix}changes/` });
      const receipt = await waitForFile(t.target, dropped, { timeoutMs: 60_000 });
      const [file] = await sql<{ key: string; event: string }[]>`SELECT key, to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS event FROM landfall.files WHERE file_id = ${receipt.fileId}`;
      const expected = model.apply({ arrival: fileArrivalOf({ eventTime: file!.event, key: file!.key }), rows, snapshot });
      expect(receipt, `${name}: ${JSON.stringify(rows)}`).toMatchObject({ status: 'complete', ...expected, addsUp: true });
      expect(await rowsOf('oracle_photos'), name).toEqual(model.table());
    }
  }, 180_000);
});
