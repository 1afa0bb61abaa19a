import { spawn } from 'node:child_process';
import postgres from 'postgres';
import { afterAll, expect, test } from 'vitest';
import { runDedupe, type DedupeRequest } from '../../shared/tools/dedupe/run-dedupe.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { duplicateRows, expectedWinners, insertRows } from '../helpers/duplicates.ts';

const db = await createTestDatabase();
const SEED = Number(process.env.DEDUPE_SEED ?? 11);
const clients: postgres.Sql[] = [];
const client = (name: string) => {
  const sql = postgres(db.url, { max: 1, prepare: false, onnotice: () => {}, connection: { application_name: name } });
  clients.push(sql);
  return sql;
};
afterAll(() => Promise.all(clients.map((c) => c.end({ timeout: 5 }))));

interface Row {
  id: string;
  sku: string;
  region: string | null;
  version: number | null;
  block: number;
  offset: number;
}

/** No primary key: ties on the version go to the later physical position (ctid), which deletes never move. */
const request: DedupeRequest = { table: { schema: 'public', name: 'events' }, key: ['sku', 'region'], keep: { kind: 'newest', column: 'version' }, batchSize: 500 };
const readRows = async (table: string) =>
  (await db.sql.unsafe<(Omit<Row, 'block' | 'offset'> & { ctid: string })[]>(`SELECT id::text, sku, region, version, ctid::text AS ctid FROM ${table}`)).map(({ ctid, ...r }) => {
    const [block, offset] = ctid.slice(1, -1).split(',').map(Number);
    return { ...r, block: block!, offset: offset! };
  });

test('a `landfall dedupe` process whose connection is killed mid-batch, re-run, ends in the same state with no winner lost', async () => {
  // GIVEN 2,000 duplicate keys (2–20 copies, NULL regions, tied versions) in a table without a primary key
  await db.sql`CREATE TABLE events (id bigserial NOT NULL, sku text NOT NULL, region text, version int4, payload text NOT NULL)`;
  await insertRows(db.sql, 'events', duplicateRows(SEED, 2_000, 200, [2, 20]));
  const original = await readRows('events');
  const winners = expectedWinners(original, (a, b) => a.block - b.block || a.offset - b.offset);
  const winnerIds = new Set([...winners.values()].map((r) => r.id));

  // WHEN `landfall dedupe` runs as its own process and its connection is terminated while a
  // batch waits inside its transaction (a lock held by another session)
  const child = spawn(process.execPath, ['bin/landfall.js', 'dedupe', 'events', '--key', 'sku,region', '--keep', 'version:version', '--batch', '50'], {
    env: { ...process.env, DATABASE_URL: db.url },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const blocker = client('blocker');
  let release: () => void = () => {};
  let holding: Promise<unknown> = Promise.resolve();
  for (let i = 0; i < 600; i++) {
    const started = await db.sql`SELECT to_regclass('landfall_backup.dedupe_runs') IS NOT NULL AS ok`;
    const [run] = started[0]!.ok ? await db.sql`SELECT removed::int AS removed FROM landfall_backup.dedupe_runs` : [];
    if ((run?.removed ?? 0) > 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  let locked: () => void = () => {};
  const lockTaken = new Promise<void>((r) => (locked = r));
  holding = blocker.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtext(${'landfall.dedupe:"public"."events"'}))`;
    locked();
    await new Promise<void>((r) => (release = r));
  });
  await lockTaken;
  let terminated = 0;
  for (let i = 0; i < 400 && terminated === 0; i++) {
    const [row] = await db.sql`
      SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND application_name = 'landfall-cli' AND wait_event_type = 'Lock'`;
    terminated = row!.n;
    if (!terminated) await new Promise((r) => setTimeout(r, 25));
  }
  const code = await exited;
  release();
  await holding;
  expect(terminated).toBe(1);
  expect(code, stderr).not.toBe(0);

  // THEN some batches are in the backup, the one in flight rolled back, and every winner is still there
  const [{ backup, removed: recorded }] = (await db.sql`
    SELECT backup_table AS backup, removed::int AS removed FROM landfall_backup.dedupe_runs WHERE status = 'running'`) as unknown as [{ backup: string; removed: number }];
  const [midway] = await db.sql.unsafe(`SELECT count(*)::int AS n FROM landfall_backup.${JSON.stringify(backup)}`);
  expect(midway!.n).toBe(recorded);
  expect(midway!.n).toBeGreaterThan(0);
  expect(midway!.n).toBeLessThan(original.length - winnerIds.size);
  const afterCrash = new Set((await readRows('events')).map((r) => r.id));
  for (const id of winnerIds) expect(afterCrash.has(id)).toBe(true);
  expect(afterCrash.size + midway!.n).toBe(original.length);

  // WHEN it is re-run
  const summary = await runDedupe(client('dedupe-rerun'), request);

  // THEN it resumed the same run and ended with exactly the winners; the backup holds all the others once
  expect(summary.resumed).toBe(true);
  expect(summary.backupTable).toBe(`"landfall_backup"."${backup}"`);
  const final = await readRows('events');
  expect(new Set(final.map((r) => r.id))).toEqual(winnerIds);
  const removed = await db.sql.unsafe<{ id: string }[]>(`SELECT id::text FROM ${summary.backupTable}`);
  expect(removed.length).toBe(original.length - winnerIds.size);
  expect(new Set([...removed.map((r) => r.id), ...final.map((r) => r.id)])).toEqual(new Set(original.map((r) => r.id)));
  expect(summary.removedTotal).toBe(removed.length);
  expect(summary.removed).toBe(removed.length - midway!.n);

  // AND running it again changes nothing
  const again = await runDedupe(client('dedupe-again'), request);
  expect(again).toMatchObject({ removed: 0, resumed: false, indexCreated: false });
  expect((await readRows('events')).length).toBe(winnerIds.size);
});
