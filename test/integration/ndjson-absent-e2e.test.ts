import { beforeAll, describe, expect, test } from 'vitest';
import { parseConfig } from '../../shared/core/config.ts';
import { listQuarantine } from '../../shared/postgres/quarantine-retry.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { startTestStack } from '../helpers/local-stack.ts';

/**
 * Issue 20, item 0, end to end through the local stack: NDJSON objects that omit, add and null
 * keys, in one batch and across batches, through the COPY fast path (a batch of new keys) and the
 * upsert, and through replay (a batch with a row that fails a CHECK).
 *
 * The assertions marked CONSUMER check what the statement does with `absent` (the producer's part,
 * the batches, is in producer-ndjson-keys.test.ts); they fail with absent handling switched off.
 */
const db = await createTestDatabase();
const { sql } = db;
const config = parseConfig({
  tables: [{ table: 'people', prefix: 'people/', conflictKey: ['id'], version: 'v', partitions: 2 }],
  batch: { maxRows: 50, maxBytes: 1024 * 1024 },
});

beforeAll(async () => {
  await sql`CREATE TABLE people (id int PRIMARY KEY, name text DEFAULT 'dflt', email text, score int CHECK (score >= 0), v int NOT NULL, _landfall_arrival text COLLATE "C")`;
});
const t = await startTestStack(config, db.url);
const lines = (...objects: object[]) => objects.map((o) => JSON.stringify(o)).join('\n') + '\n';

describe('NDJSON objects that omit, add and null keys', () => {
  test('insert (COPY fast path: every key new): an omitted key takes the column default, an explicit null is NULL', async () => {
    const receipt = await t.run(t.file('people-1.ndjson', lines({ id: 1, v: 1, name: 'ann', email: 'a@x' }, { id: 2, v: 1, email: 'b@x' }, { id: 3, v: 1, name: null, email: 'c@x' })), 'people');

    expect(receipt).toMatchObject({ status: 'complete', read: 3, inserted: 3, addsUp: true });
    // CONSUMER: id 2's name takes the default.
    expect(await sql`SELECT id, name, email FROM people ORDER BY id`).toEqual([
      { id: 1, name: 'ann', email: 'a@x' },
      { id: 2, name: 'dflt', email: 'b@x' },
      { id: 3, name: null, email: 'c@x' },
    ]);
  });

  test('update (upsert): an omitted key leaves the stored column alone, in one batch and across batches; a null writes NULL', async () => {
    // Batch of 50 rows max: 60 objects make two batches per partition; every other one omits email.
    const objects = [{ id: 1, v: 2, email: 'new-a' }, { id: 2, v: 2, name: 'bob' }, { id: 3, v: 2, email: null }, ...Array.from({ length: 57 }, (_, i) => ({ id: 100 + i, v: 1, ...(i % 2 ? { email: `e${i}` } : {}) }))];

    const receipt = await t.run(t.file('people-2.ndjson', lines(...objects)), 'people');

    expect(receipt).toMatchObject({ status: 'complete', read: 60, updated: 3, inserted: 57, addsUp: true });
    // CONSUMER: the columns an object omitted keep their stored values.
    expect(await sql`SELECT id, name, email FROM people WHERE id < 100 ORDER BY id`).toEqual([
      { id: 1, name: 'ann', email: 'new-a' },
      { id: 2, name: 'bob', email: 'b@x' },
      { id: 3, name: null, email: null },
    ]);
    expect(await sql`SELECT count(*)::int AS n FROM people WHERE id >= 100 AND email IS NULL AND name = 'dflt'`).toEqual([{ n: 29 }]);
  });

  test('replay: a batch with a row that fails a CHECK is replayed; the good rows keep their omitted columns, the bad row is quarantined without them', async () => {
    const receipt = await t.run(t.file('people-3.ndjson', lines({ id: 1, v: 3, score: 5 }, { id: 2, v: 3, score: -1 }, { id: 3, v: 3, name: 'cy', score: 7 })), 'people');

    expect(receipt).toMatchObject({ status: 'complete', read: 3, quarantined: 1, updated: 2, addsUp: true });
    const [bad] = (await listQuarantine(sql, { table: 'people' })).filter((q) => q.fileKey === receipt.key);
    // The quarantine keeps what the object carried, so a retry also leaves name and email alone.
    expect(bad!.row).toEqual({ id: '2', v: '3', score: '-1' });
    // CONSUMER: replay leaves the omitted columns alone too.
    expect(await sql`SELECT id, name, email, score FROM people WHERE id < 100 ORDER BY id`).toEqual([
      { id: 1, name: 'ann', email: 'new-a', score: 5 },
      { id: 2, name: 'bob', email: 'b@x', score: null },
      { id: 3, name: 'cy', email: null, score: 7 },
    ]);
  });
});
