import { beforeAll, describe, expect, test } from 'vitest';
import { parseConfig } from '../../shared/core/config.ts';
import { listQuarantine, retryQuarantine } from '../../shared/postgres/quarantine-retry.ts';
import { replayBatch } from '../../shared/postgres/replay-batch.ts';
import { makeBatch } from '../helpers/batches.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { prepare } from '../helpers/engine.ts';
import { startTestStack } from '../helpers/local-stack.ts';

const db = await createTestDatabase();
const { sql } = db;
const config = parseConfig({
  tables: [{ table: 'notes', prefix: 'notes/', conflictKey: ['id'], partitions: 2 }],
  batch: { maxRows: 100, maxBytes: 1024 * 1024 },
});

beforeAll(async () => {
  await sql`CREATE TABLE notes (id int PRIMARY KEY, body text, doc jsonb)`;
});
const t = await startTestStack(config, db.url);

describe('a value PostgreSQL can never store is quarantined row by row before binding', () => {
  test('GIVEN a CSV with a NUL byte in one text field WHEN it runs THEN that row is quarantined with 22021 and the other rows apply', async () => {
    const csv = Buffer.concat([Buffer.from('id,body,doc\n1,one,\n2,t'), Buffer.from([0x00]), Buffer.from('wo,\n3,three,"{""a"":1}"\n4,four,\n')]);

    const receipt = await t.run(t.file('notes-nul.csv', csv), 'notes');

    expect(receipt).toMatchObject({ status: 'complete', read: 4, inserted: 3, quarantined: 1, addsUp: true });
    expect(await sql`SELECT id FROM notes WHERE id <= 4 ORDER BY id`).toEqual([{ id: 1 }, { id: 3 }, { id: 4 }]);
    const [q] = await listQuarantine(sql, { table: 'notes' });
    expect(q).toMatchObject({ rowNumber: 2, sqlstate: '22021', column: 'body', row: { id: '2', body: 't\u2400wo' } });
    expect(q!.message).toContain(`file "${receipt.key}" row 2 column "body" (text) contains a NUL byte`);
    // Applied by the consumer itself: never poisoned, never through the DLQ and replay.
    const batches = await sql`SELECT status, applications FROM landfall.batches WHERE file_id = ${receipt.fileId}`;
    expect(batches.every((b) => b.status === 'applied' && b.applications === 1)).toBe(true);
  });

  test('GIVEN NDJSON with \\u0000 in a text field and inside a jsonb object WHEN it runs THEN both rows are quarantined (22021, 22P05) and the rest applies', async () => {
    const ndjson = [
      '{"id":11,"body":"fine","doc":{"a":1}}',
      '{"id":12,"body":"bad\\u0000text","doc":null}',
      '{"id":13,"body":"ok","doc":{"s":"x\\u0000y"}}',
      '{"id":14,"body":"ok","doc":{"s":"a\\\\u0000 is only text"}}',
    ].join('\n');

    const receipt = await t.run(t.file('notes-nul.ndjson', `${ndjson}\n`), 'notes');

    expect(receipt).toMatchObject({ status: 'complete', read: 4, inserted: 2, quarantined: 2, addsUp: true });
    expect(await sql`SELECT id, doc FROM notes WHERE id > 10 ORDER BY id`).toEqual([
      { id: 11, doc: { a: 1 } },
      { id: 14, doc: { s: 'a\\u0000 is only text' } },
    ]);
    const quarantined = (await listQuarantine(sql, { table: 'notes' })).filter((q) => q.fileKey === receipt.key);
    expect(quarantined.map((q) => [q.rowNumber, q.sqlstate, q.column])).toEqual([
      [2, '22021', 'body'],
      [3, '22P05', 'doc'],
    ]);
  });

  test('quarantine retry keeps refusing a NUL row (the quarantine holds it as ␀, not as the file had it)', async () => {
    const [q] = (await listQuarantine(sql, { table: 'notes' })).filter((row) => row.sqlstate === '22021' && row.rowNumber === 2 && row.fileKey.endsWith('notes-nul.csv'));

    const result = await retryQuarantine(sql, async () => (await prepare(sql, { table: 'notes', conflictKey: ['id'] })), [q!]);

    expect(result).toEqual({ applied: 0, stillFailing: 1, resolvedElsewhere: 0 });
    expect(await sql`SELECT id FROM notes WHERE id = 2`).toEqual([]);
  });
});

describe('replay', () => {
  test('GIVEN a batch with a NUL value WHEN replayed THEN only that row is quarantined', async () => {
    await sql`CREATE TABLE notes_replay (id int PRIMARY KEY, body text)`;
    const target = await prepare(sql, { table: 'notes_replay', conflictKey: ['id'] });
    const batch = makeBatch({ table: 'notes_replay', rows: [{ id: '1', body: 'a' }, { id: '2', body: 'b\u0000' }, { id: '3', body: 'c' }] });

    const result = await replayBatch(sql, target, batch);

    expect(result.failures.map((f) => [f.row, f.sqlstate, f.column])).toEqual([[1, '22021', 'body']]);
    expect(result.counts).toMatchObject({ read: 3, inserted: 2, quarantined: 1 });
    expect(await sql`SELECT id FROM notes_replay ORDER BY id`).toEqual([{ id: 1 }, { id: 3 }]);
  });
});
