import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, test } from 'vitest';
import { parseConfig } from '../../shared/core/config.ts';
import { fileReceipts } from '../../shared/postgres/ledger/files.ts';
import { listQuarantine } from '../../shared/postgres/quarantine-retry.ts';
import { s3EventBodyOf } from '../../shared/core/s3-event.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { startTestStack } from '../helpers/local-stack.ts';
import { dropFile, tableForFile, waitForFile } from '../../shared/local/run-files.ts';
import { csvOf, gzipOf, ndjsonOf, parquetOf, type Row } from '../helpers/producer-files.ts';

/**
 * The whole local stack end to end (DESIGN.md's flow), on the test's database either directly or
 * through pgbouncer in transaction mode, as the functions reach RDS through RDS Proxy.
 */
export async function defineE2eSuite(through: 'direct' | 'pgbouncer'): Promise<void> {
  const db = await createTestDatabase();
  const { sql } = db;
  const config = parseConfig({
    tables: [
      { table: 'items', prefix: 'items/', conflictKey: ['id'], version: 'v', partitions: 3 },
      { table: 'events', prefix: 'events/', conflictKey: ['id'], partitions: 2 },
      { table: 'accounts', prefix: 'accounts/', conflictKey: ['id'], version: 'seq', partitions: 4 },
    ],
    batch: { maxRows: 50, maxBytes: 1024 * 1024 },
  });

  beforeAll(async () => {
    await sql`CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(10,2), v int NOT NULL, _landfall_arrival text COLLATE "C")`;
    await sql`CREATE TABLE events (id text PRIMARY KEY, kind text, payload jsonb, _landfall_arrival text COLLATE "C")`;
    await sql`CREATE TABLE accounts (id int PRIMARY KEY, balance numeric(12,2) NOT NULL CHECK (balance >= 0), opened date, seq int NOT NULL, _landfall_arrival text COLLATE "C")`;
  });
  if (through === 'pgbouncer' && !db.pooledUrl) throw new Error('no pgbouncer in front of the test server (installed? DATABASE_URL not on 127.0.0.1?)');
  const databaseUrl = through === 'pgbouncer' ? db.pooledUrl! : db.url;
  const t = await startTestStack(config, databaseUrl);

  const addsUp = (r: { read: number; rejected: number; collapsed: number; inserted: number; updated: number; unchanged: number; stale: number; deleted: number; quarantined: number }) =>
    r.read === r.rejected + r.collapsed + r.inserted + r.updated + r.unchanged + r.stale + r.deleted + r.quarantined;

  describe('happy path: CSV, NDJSON.gz and Parquet land through the whole local stack', () => {
    const rows: Row[] = Array.from({ length: 240 }, (_, i) => ({ id: i % 200, name: `item ${i}`, price: (i % 50) + 0.5, v: i }));

    test('a CSV with in-file duplicates: the table holds the newest row per key; the receipt adds up', async () => {
      const receipt = await t.run(t.file('items-1.csv', csvOf(rows)), 'items');

      expect(receipt).toMatchObject({ status: 'complete', table: 'items', read: 240, inserted: 200, addsUp: true });
      // A repeated key collapses inside its batch, or updates the row an earlier batch wrote.
      expect(receipt.collapsed + receipt.updated).toBe(40);
      const stored = await sql`SELECT id, name, v FROM items ORDER BY id`;
      expect(stored).toHaveLength(200);
      expect(stored[0]).toEqual({ id: 0, name: 'item 200', v: 200 });
      expect(stored[199]).toEqual({ id: 199, name: 'item 199', v: 199 });
    });

    test('the receipt is taken as the invocation that completes the file ends, not at a later look at the ledger', async () => {
      // GIVEN every invocation's end, as the stack tells it
      let lastEnded = 0;
      let watching = true;
      void (async () => {
        while (watching) {
          await t.stack.invocationEnded();
          lastEnded = Date.now();
        }
      })();
      // WHEN a file is dropped and waited for
      const path = t.file('items-prompt.csv', csvOf(rows.slice(0, 20)));
      const receipt = await waitForFile(t.target, await dropFile(t.target, path, tableForFile(config, path, 'items')), { timeoutMs: 30_000 });
      watching = false;
      // THEN its receipt came within moments of the last invocation (the fallback look is 500 ms away)
      expect(receipt.status).toBe('complete');
      expect(Date.now() - lastEnded).toBeLessThan(250);
    });

    test('an NDJSON.gz file of events with nested JSON lands as jsonb', async () => {
      const events: Row[] = Array.from({ length: 120 }, (_, i) => ({ id: `e-${i}`, kind: i % 2 ? 'click' : 'view', payload: JSON.stringify({ n: i }) }));
      const ndjson = ndjsonOf(events).replaceAll(/"payload":"(\{[^}]*\})"/g, (_, inner: string) => `"payload":${inner.replaceAll('\\"', '"')}`);

      const receipt = await t.run(t.file('events-1.ndjson.gz', gzipOf(ndjson)), 'events');

      expect(receipt).toMatchObject({ status: 'complete', read: 120, inserted: 120, addsUp: true });
      expect(await sql`SELECT payload FROM events WHERE id = 'e-7'`).toEqual([{ payload: { n: 7 } }]);
    });

    test('a Parquet file updates the CSV rows it carries newer versions of', async () => {
      const newer: Row[] = Array.from({ length: 100 }, (_, i) => ({ id: i, name: `parquet ${i}`, price: 1.25, v: 1000 + i }));

      const receipt = await t.run(t.file('items-2.parquet', await parquetOf(newer)), 'items');

      expect(receipt).toMatchObject({ status: 'complete', read: 100, updated: 100, addsUp: true });
      expect(await sql`SELECT name, price::text AS price FROM items WHERE id = 42`).toEqual([{ name: 'parquet 42', price: '1.25' }]);
      expect(await sql`SELECT count(*)::int AS n FROM items`).toEqual([{ n: 200 }]);
    });
  });

  describe('no row applied twice', () => {
    test('duplicate S3 notifications of one file: every batch applied once', async () => {
      const path = t.file('accounts-dup.csv', csvOf(Array.from({ length: 80 }, (_, i) => ({ id: i, balance: 100, opened: '2026-01-01', seq: 1 }))));
      const receipt = await t.run(path, 'accounts');
      const [head] = await fileReceipts(sql, { fileIds: [receipt.fileId] });
      const again = s3EventBodyOf([{ bucket: t.stack.buckets.inbox, key: receipt.key, etag: '', size: 0, eventTime: new Date().toISOString(), sequencer: '01', region: t.stack.region }]);

      // The same notification twice more (the ETag is the file's: read it back from the ledger).
      const [file] = await sql`SELECT etag FROM landfall.files WHERE file_id = ${receipt.fileId}`;
      for (let i = 0; i < 2; i++) {
        await t.stack.sqs.send(new SendMessageCommand({ QueueUrl: t.stack.queues.intake, MessageBody: again.replace('"eTag":""', `"eTag":"${file!.etag}"`) }));
      }
      await new Promise((r) => setTimeout(r, 1500));

      const batches = await sql`SELECT applications FROM landfall.batches WHERE file_id = ${receipt.fileId}`;
      expect(batches.every((b) => b.applications === 1)).toBe(true);
      expect(await fileReceipts(sql, { fileIds: [receipt.fileId] })).toEqual([head]);
      expect(await sql`SELECT sum(balance)::int AS total FROM accounts`).toEqual([{ total: 8000 }]);
    });

    test('the same rows dropped again as a new file: all unchanged, balances not doubled', async () => {
      const body = csvOf(Array.from({ length: 60 }, (_, i) => ({ id: 500 + i, balance: 10, opened: '2026-01-01', seq: 1 })));
      await t.run(t.file('accounts-nightly.csv', body), 'accounts');

      const second = await t.run(t.file('accounts-nightly-rerun.csv', body), 'accounts');

      expect(second).toMatchObject({ status: 'complete', read: 60, unchanged: 60, inserted: 0, updated: 0, addsUp: true });
      expect(await sql`SELECT sum(balance)::int AS total FROM accounts WHERE id >= 500`).toEqual([{ total: 600 }]);
    });
  });

  describe('out of order and bad rows', () => {
    test('files applied out of order keep the highest version of every key', async () => {
      const newer = csvOf(Array.from({ length: 50 }, (_, i) => ({ id: 1000 + i, balance: 2, opened: '2026-01-02', seq: 2 })));
      const older = csvOf(Array.from({ length: 50 }, (_, i) => ({ id: 1000 + i, balance: 1, opened: '2026-01-01', seq: 1 })));

      await t.run(t.file('accounts-newer.csv', newer), 'accounts');
      const late = await t.run(t.file('accounts-older.csv', older), 'accounts');

      expect(late).toMatchObject({ stale: 50, addsUp: true });
      expect(await sql`SELECT DISTINCT seq, balance::int AS balance FROM accounts WHERE id BETWEEN 1000 AND 1049`).toEqual([{ seq: 2, balance: 2 }]);
    });

    test('bad rows are quarantined with reasons and the rest lands; an unparseable line is rejected', async () => {
      const good = Array.from({ length: 40 }, (_, i) => `${2000 + i},5.00,2026-01-01,1`);
      good[3] = '2003,-1.00,2026-01-01,1'; // CHECK violation
      good[7] = '2007,5.00,2026-02-30,1'; // not a date
      good[9] = '2009,5.00'; // wrong number of fields: rejected by the producer
      const receipt = await t.run(t.file('accounts-bad.csv', `id,balance,opened,seq\n${good.join('\n')}\n`), 'accounts');

      expect(receipt).toMatchObject({ status: 'complete', read: 40, rejected: 1, quarantined: 2, inserted: 37, addsUp: true });
      const quarantined = (await listQuarantine(sql, { table: 'accounts' })).filter((q) => q.fileKey === receipt.key);
      expect(quarantined.map((q) => [q.rowNumber, q.sqlstate])).toEqual([
        [4, '23514'],
        [8, '22008'],
      ]);
      expect(await sql`SELECT count(*)::int AS n FROM accounts WHERE id BETWEEN 2000 AND 2039`).toEqual([{ n: 37 }]);
    });
  });

  describe('landfall run (the CLI, as scripts use it)', () => {
    test('drops the files in order, prints one JSON receipt per file, exits 0 when every row is addsUp for', async () => {
      const configPath = join(t.dir, 'run-config.json');
      writeFileSync(configPath, JSON.stringify({ tables: [{ table: 'items', prefix: 'items/', conflictKey: ['id'], version: 'v' }] }));
      const a = t.file('run-a.csv', csvOf([{ id: 3000, name: 'a', price: 1, v: 1 }]));
      const b = t.file('run-b.csv', csvOf([{ id: 3000, name: 'b', price: 1, v: 2 }]));

      const result = spawnSync(process.execPath, ['bin/landfall.js', 'run', '--config', configPath, '--database-url', databaseUrl, a, b], {
        encoding: 'utf8',
        env: { ...process.env, LANDFALL_HOME: join(t.dir, 'cli-home') },
        timeout: 120_000,
      });

      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      const receipts = result.stdout.trim().split('\n').map((line) => JSON.parse(line));
      expect(receipts.map((r) => [r.file, r.status, r.inserted, r.updated])).toEqual([
        [a, 'complete', 1, 0],
        [b, 'complete', 0, 1],
      ]);
      for (const r of receipts) expect(addsUp(r)).toBe(true);
      expect(await sql`SELECT name FROM items WHERE id = 3000`).toEqual([{ name: 'b' }]);
    });

    test('a file that lands with a rejected row adds up, and the run exits 1: the row needs attention', async () => {
      const configPath = join(t.dir, 'run-config-rejects.json');
      writeFileSync(configPath, JSON.stringify({ tables: [{ table: 'items', prefix: 'items/', conflictKey: ['id'], version: 'v' }] }));
      const withReject = t.file('run-rejects.csv', 'id,name,price,v\n3100,a,1,1\n3101,b\n');

      const result = spawnSync(process.execPath, ['bin/landfall.js', 'run', '--config', configPath, '--database-url', databaseUrl, withReject], {
        encoding: 'utf8',
        env: { ...process.env, LANDFALL_HOME: join(t.dir, 'cli-home-rejects') },
        timeout: 120_000,
      });

      expect(result.status).toBe(1);
      expect(JSON.parse(result.stdout.trim())).toMatchObject({ status: 'complete', read: 2, rejected: 1, inserted: 1, addsUp: true });
    });

    test('an unreadable file is moved aside and the run exits non-zero with its reason', async () => {
      const configPath = join(t.dir, 'run-config-2.json');
      writeFileSync(configPath, JSON.stringify({ tables: [{ table: 'items', prefix: 'items/', conflictKey: ['id'], version: 'v' }] }));
      const broken = t.file('broken.csv.gz', 'this is not gzip');

      const result = spawnSync(process.execPath, ['bin/landfall.js', 'run', '--config', configPath, '--database-url', databaseUrl, broken], {
        encoding: 'utf8',
        env: { ...process.env, LANDFALL_HOME: join(t.dir, 'cli-home-2') },
        timeout: 120_000,
      });

      expect(result.stderr).toBe('');
      expect(result.status).toBe(1);
      expect(JSON.parse(result.stdout.trim())).toMatchObject({ file: broken, status: 'moved-aside', addsUp: false });
    });
  });

  describe('landfall run --concurrent', () => {
    test('refuses two files that would land under one inbox key, before dropping anything', async () => {
      const configPath = join(t.dir, 'run-config-3.json');
      writeFileSync(configPath, JSON.stringify({ tables: [{ table: 'items', prefix: 'items/', conflictKey: ['id'], version: 'v' }] }));
      const { mkdirSync } = await import('node:fs');
      mkdirSync(join(t.dir, 'a'), { recursive: true });
      mkdirSync(join(t.dir, 'b'), { recursive: true });
      const a = t.file('a/same.csv', csvOf([{ id: 4000, name: 'a', price: 1, v: 1 }]));
      const b = t.file('b/same.csv', csvOf([{ id: 4001, name: 'b', price: 1, v: 1 }]));

      const result = spawnSync(process.execPath, ['bin/landfall.js', 'run', '--concurrent', '--config', configPath, '--database-url', databaseUrl, a, b], {
        encoding: 'utf8',
        env: { ...process.env, LANDFALL_HOME: join(t.dir, 'cli-home-3') },
        timeout: 60_000,
      });

      expect(result.status).toBe(2);
      expect(result.stderr).toContain('would both be dropped as items/same.csv');
      expect(await sql`SELECT id FROM items WHERE id IN (4000, 4001)`).toEqual([]);
    });
  });
}
