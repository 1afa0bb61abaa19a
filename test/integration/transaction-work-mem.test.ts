import postgres from 'postgres';
import { describe, expect, test } from 'vitest';
import { applyBatch } from '../../shared/postgres/apply-batch.ts';
import { replayBatch } from '../../shared/postgres/replay-batch.ts';
import { limitTransaction, WORK_MEM_MAX_BYTES, workMemFor } from '../../shared/postgres/transaction-limits.ts';
import { batchOfColumns, fileIdentity } from '../helpers/batches.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { prepare } from '../helpers/engine.ts';

const { url, sql } = await createTestDatabase();

/** One session, so what a transaction leaves behind on it is seen by the next query (as behind a pooler). */
function oneSession() {
  return postgres(url, { max: 1, prepare: false, onnotice: () => {} });
}

/** `rows` rows of (id, name, v) with long names: a batch whose values fill `workMemFor`'s floor several times. */
function bigBatch(table: string, rows: number, version: number) {
  const ids = Array.from({ length: rows }, (_, i) => String(i));
  return batchOfColumns(table, fileIdentity(), ['id', 'name', 'v'], [ids, ids.map((i) => `name ${i} `.padEnd(200, 'x')), ids.map(() => String(version))]);
}

describe('workMemFor', () => {
  test('GIVEN batches of growing size THEN work_mem is twice their values, none for a small batch, at most the bound', () => {
    expect(workMemFor({ values: [['a', 'b']] })).toBeNull();
    const mid = workMemFor({ values: [Array.from({ length: 20_000 }, () => 'x'.repeat(200))] });
    expect(mid).toBe(2 * 20_000 * 216);
    expect(workMemFor({ values: [Array.from({ length: 400_000 }, () => 'x'.repeat(200))] })).toBe(WORK_MEM_MAX_BYTES);
    // Only the rows applied count.
    expect(workMemFor({ values: [Array.from({ length: 20_000 }, () => 'x'.repeat(200))] }, [0, 1, 2])).toBeNull();
  });
});

describe('a batch transaction\'s work_mem', () => {
  test('GIVEN a session at its default WHEN a transaction raises work_mem THEN the transaction sees it and the session does not keep it', async () => {
    const session = oneSession();
    try {
      const [before] = await session`SELECT current_setting('work_mem') AS wm`;
      const inside = await session.begin(async (tx) => {
        await limitTransaction(tx, undefined, 20 * 1024 * 1024);
        return (await tx`SELECT current_setting('work_mem') AS wm`)[0]!.wm as string;
      });
      expect(inside).toBe('20MB');
      expect((await session`SELECT current_setting('work_mem') AS wm`)[0]!.wm).toBe(before!.wm);
      // Rolled back, too.
      await session
        .begin(async (tx) => {
          await limitTransaction(tx, { statementTimeoutMs: 5_000, idleInTransactionMs: null }, 20 * 1024 * 1024);
          expect((await tx`SELECT current_setting('work_mem') AS wm, current_setting('statement_timeout') AS st`)[0]).toEqual({ wm: '20MB', st: '5s' });
          throw new Error('roll back');
        })
        .catch(() => {});
      expect((await session`SELECT current_setting('work_mem') AS wm`)[0]!.wm).toBe(before!.wm);
    } finally {
      await session.end();
    }
  });

  test('GIVEN a session whose work_mem is larger WHEN a transaction asks for less THEN it keeps the larger', async () => {
    const session = oneSession();
    try {
      await session`SET work_mem = '128MB'`;
      const inside = await session.begin(async (tx) => {
        await limitTransaction(tx, undefined, 8 * 1024 * 1024);
        return (await tx`SELECT current_setting('work_mem') AS wm`)[0]!.wm as string;
      });
      expect(inside).toBe('128MB');
    } finally {
      await session.end();
    }
  });

  test('GIVEN a batch larger than the default work_mem WHEN it is applied and replayed THEN the session keeps its work_mem and the counts are exact', async () => {
    await sql`CREATE TABLE wm_items (id int PRIMARY KEY, name text, v int NOT NULL)`;
    // What the statement ran with, as a statement trigger sees it.
    await sql`CREATE TABLE wm_seen (wm text)`;
    await sql`CREATE FUNCTION wm_record() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO wm_seen VALUES (current_setting('work_mem')); RETURN NULL; END $$`;
    await sql`CREATE TRIGGER wm_record AFTER INSERT ON wm_items FOR EACH STATEMENT EXECUTE FUNCTION wm_record()`;
    const session = oneSession();
    try {
      const target = await prepare(session, { table: 'wm_items', conflictKey: ['id'], version: 'v' });
      const [before] = await session`SELECT current_setting('work_mem') AS wm`;
      await applyBatch(session, target, bigBatch('wm_items', 30_000, 1));
      // The table's next batch takes the upsert (stored keys), with the raised work_mem.
      const updated = await applyBatch(session, target, bigBatch('wm_items', 30_000, 2));
      expect(updated.counts).toMatchObject({ read: 30_000, inserted: 0, updated: 30_000 });
      const replayed = await replayBatch(session, target, bigBatch('wm_items', 30_000, 3));
      expect(replayed.counts).toMatchObject({ read: 30_000, inserted: 0, updated: 30_000 });
      expect((await session`SELECT current_setting('work_mem') AS wm`)[0]!.wm).toBe(before!.wm);
      // The upsert and the replay ran with the batch's work_mem (30,000 rows of about 220 bytes: 2 × 6.8 MB).
      const kB = `${Math.ceil(workMemFor(bigBatch('wm_items', 30_000, 1))! / 1024)}kB`;
      expect((await sql`SELECT wm FROM wm_seen`).map((r) => r.wm).slice(-2)).toEqual([kB, kB]);
    } finally {
      await session.end();
    }
  });
});
