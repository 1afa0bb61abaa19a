import { join } from 'node:path';
import type { SQSBatchResponse } from 'aws-lambda';
import { afterAll, expect, test } from 'vitest';
import { parseConfig } from '../../shared/core/config.ts';
import { fileReceipts } from '../../shared/postgres/ledger/files.ts';
import type { SqsHandler } from '../../shared/local/lambda-poller.ts';
import { dropFile, tableForFile, waitForFile } from '../../shared/local/run-files.ts';
import { startLocalStack } from '../../shared/local/stack.ts';
import { FAST_VISIBILITY } from '../helpers/local-stack.ts';
import { restartableDatabase } from '../helpers/restartable-database.ts';
import { csvOf, type Row } from '../helpers/producer-files.ts';

/** mulberry32: a small seeded generator, so a failing run can be repeated with its seed. */
function seeded(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEY_SPELLINGS = [(n: number) => String(n), (n: number) => `0${n}`, (n: number) => `+${n}`, (n: number) => ` ${n}`];

const FILES = 20;
const ROWS = 150;

/**
 * The chaos run, with the stack reaching its own server directly or through pgbouncer in
 * transaction mode (the RDS Proxy stand-in; it stays up while the server behind it restarts).
 */
export function defineChaosTest(through: 'direct' | 'pgbouncer'): void {
  test(`chaos (${through}): duplicate deliveries, crashes before and after commit, killed connections, a server restart and remembered deletes (also against files without the delete column) leave exactly the oracle`, async () => {
    const seed = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 1_000_000));
    console.log(`chaos seed ${seed} (repeat with CHAOS_SEED=${seed})`);
    const random = seeded(seed);

    // Files: ~30% of rows reuse a key of an earlier file; small versions, so ties are common and
    // the arrival order (file, then row) decides them; ~15% of rows are deletes, remembered, so an
    // older row of a deleted key (in a later file, a redelivery or a retry) must not bring it back.
    // Every third file has no delete column at all: remembered deletes hold for it too (rule 6).
    const withoutOp = (f: number) => f % 3 === 2;
    const files: Row[][] = [];
    const used: number[] = [];
    let nextKey = 0;
    for (let f = 0; f < FILES; f++) {
      const rows: Row[] = [];
      for (let r = 0; r < ROWS; r++) {
        const id = used.length > 0 && random() < 0.3 ? used[Math.floor(random() * used.length)]! : nextKey++;
        const row: Row = { id, val: `f${f}r${r}`, v: 1 + Math.floor(random() * 3) };
        rows.push(withoutOp(f) ? row : { ...row, op: random() < 0.15 ? 'D' : null });
      }
      used.push(...rows.map((row) => row.id as number));
      files.push(rows);
    }
    // The winner per key is the greatest version, ties to the later arrival; a winning delete leaves no row.
    const winners = new Map<number, { val: string; v: number; deleted: boolean; file: number }>();
    for (const [file, rows] of files.entries()) {
      for (const row of rows) {
        const current = winners.get(row.id as number);
        if (!current || (row.v as number) >= current.v) winners.set(row.id as number, { val: row.val as string, v: row.v as number, deleted: row.op === 'D', file });
      }
    }
    const oracle = new Map([...winners].filter(([, w]) => !w.deleted).map(([id, w]) => [id, { val: w.val, v: w.v }]));
    // Older rows that arrive after their key's winning delete: without remembered deletes each one could bring its key back.
    const afterDelete = files.map((rows, file) => rows.filter((row) => winners.get(row.id as number)!.deleted && winners.get(row.id as number)!.file < file));
    expect(afterDelete.flat().length).toBeGreaterThan(0);
    expect(afterDelete.filter((_, file) => withoutOp(file)).flat().length).toBeGreaterThan(0);

    // A server of its own, so the test can restart it.
    const database = await restartableDatabase('landfall-chaos-', through === 'pgbouncer' ? { pgbouncerPoolSize: 4 } : {});
    const { dir, admin, databaseUrl } = database;
    await admin`CREATE TABLE chaos (id int PRIMARY KEY, val text, v int NOT NULL, hits bigint NOT NULL DEFAULT 0, _landfall_arrival text COLLATE "C")`;

    // An "add" column (merge rules): each row carries a delta (sometimes none), drawn from a
    // generator of its own so the files' keys, versions and deletes stay as the seed made them.
    const hitsOf = seeded(seed + 1);
    for (const rows of files) for (const row of rows) row.hits = hitsOf() < 0.1 ? null : Math.floor(hitsOf() * 10);

    const config = parseConfig({
      tables: [{ table: 'chaos', conflictKey: ['id'], version: 'v', partitions: 4, delete: { column: 'op', equals: 'D' }, merge: { hits: 'add' } }],
      batch: { maxRows: 40, maxBytes: 1024 * 1024 },
    });
    const crashes = { before: 0, after: 0, twice: 0 };
    const chaotic =
      (_name: string, handler: SqsHandler): SqsHandler =>
      async (event, context) => {
        if (random() < 0.1) {
          crashes.before++;
          throw new Error('chaos: crashed before doing anything');
        }
        const first = await handler(event, context);
        // Every message is delivered twice.
        const second = await handler(event, context);
        crashes.twice++;
        if (random() < 0.1) {
          crashes.after++;
          throw new Error('chaos: crashed after commit, before the acknowledgement');
        }
        const failed = new Set([...(first?.batchItemFailures ?? []), ...(second?.batchItemFailures ?? [])].map((f) => f.itemIdentifier));
        return { batchItemFailures: [...failed].map((itemIdentifier) => ({ itemIdentifier })) } satisfies SQSBatchResponse;
      };
    const stack = await startLocalStack({ config, home: join(dir, 'home'), databaseUrl, visibilityTimeouts: FAST_VISIBILITY, wrapHandler: chaotic, logLevel: 'SILENT' });
    afterAll(() => stack.stop());
    const target = { s3: stack.s3, sql: stack.sql, config, buckets: stack.buckets, pollInbox: stack.pollInbox };

    // Drop the files one after another (their arrival order is the oracle's order).
    const dropped = [];
    for (const [f, rows] of files.entries()) {
      const path = join(dir, `chaos-${String(f).padStart(2, '0')}.csv`);
      const { writeFileSync } = await import('node:fs');
      // Keys spelled as PostgreSQL reads them equal (5, 05, +5, ' 5'): one key, one winner.
      writeFileSync(path, csvOf(rows.map((row) => ({ ...row, id: KEY_SPELLINGS[Math.floor(random() * KEY_SPELLINGS.length)]!(row.id as number) }))));
      dropped.push(await dropFile(target, path, tableForFile(config, path)));
    }

    // Kill the stack's connections now and then, and restart the server once.
    let kills = 0;
    const killer = setInterval(() => {
      if (random() < 0.5) {
        kills++;
        // Every session but the test's own: the stack's, or pgbouncer's server connections.
        admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()`.catch(() => {});
      }
    }, 400);
    const restart = (async () => {
      await new Promise((r) => setTimeout(r, 1500));
      await database.restart(500);
    })();

    const receipts = [];
    try {
      await restart;
      for (const d of dropped) receipts.push(await waitForFile(target, d, { timeoutMs: 240_000 }));
    } finally {
      clearInterval(killer);
    }
    console.log(`chaos: ${crashes.before} crashes before, ${crashes.after} after commit, ${crashes.twice} double deliveries, ${kills} connection kills, 1 server restart`);

    expect(receipts.map((r) => r.status)).toEqual(Array(FILES).fill('complete'));
    expect(receipts.filter((r) => !r.addsUp)).toEqual([]);
    for (const r of receipts) expect(r.read).toBe(ROWS);
    const stored = await admin<{ id: number; val: string; v: number }[]>`SELECT id, val, v FROM chaos ORDER BY id`;
    const expected = [...oracle.entries()].sort((a, b) => a[0] - b[0]).map(([id, row]) => ({ id, ...row }));
    expect(stored.map((r) => ({ ...r }))).toEqual(expected);
    // The counter: every delta exactly once. A key with no delete among its rows holds the sum of
    // all its deltas. With deletes the value depends on the order a delete and the newer rows of
    // its key are applied in (a delete that arrives after a newer row is stale and cannot take
    // back what was added before it; docs/rules.md), so it is bounded: at least the deltas of the
    // rows that beat the key's latest delete (never wiped, in any order), at most all its deltas.
    const rowsOfKey = new Map<number, { row: Row; file: number; index: number }[]>();
    files.forEach((rows, file) => rows.forEach((row, index) => rowsOfKey.set(row.id as number, [...(rowsOfKey.get(row.id as number) ?? []), { row, file, index }])));
    const later = (a: { row: Row; file: number; index: number }, b: { row: Row; file: number; index: number }) =>
      (a.row.v as number) - (b.row.v as number) || a.file - b.file || a.index - b.index;
    const storedHits = new Map((await admin<{ id: number; hits: string }[]>`SELECT id, hits::text AS hits FROM chaos`).map((r) => [r.id, Number(r.hits)]));
    let exactKeys = 0;
    for (const [id, hits] of storedHits) {
      const keyRows = rowsOfKey.get(id)!;
      const deltas = (rs: typeof keyRows) => rs.reduce((sum, r) => sum + (r.row.op === 'D' ? 0 : ((r.row.hits as number | null) ?? 0)), 0);
      const deletes = keyRows.filter((r) => r.row.op === 'D').sort(later);
      if (deletes.length === 0) {
        exactKeys++;
        expect(hits, `key ${id}: the sum of its deltas`).toBe(deltas(keyRows));
      } else {
        const last = deletes.at(-1)!;
        expect(hits, `key ${id}: at least the deltas after its latest delete`).toBeGreaterThanOrEqual(deltas(keyRows.filter((r) => later(r, last) > 0)));
        expect(hits, `key ${id}: at most all its deltas`).toBeLessThanOrEqual(deltas(keyRows));
      }
    }
    expect(exactKeys).toBeGreaterThan(0);
    const [distinct] = await admin`SELECT count(*)::int AS n, count(DISTINCT id)::int AS keys FROM chaos`;
    expect(distinct!.n).toBe(distinct!.keys);
    const applications = await admin`SELECT max(applications)::int AS most FROM landfall.batches`;
    expect(applications[0]!.most).toBe(1);
    expect((await fileReceipts(stack.sql)).every((r) => r.status === 'complete')).toBe(true);
    expect(crashes.before + crashes.after).toBeGreaterThan(0);
  }, 300_000);
}
