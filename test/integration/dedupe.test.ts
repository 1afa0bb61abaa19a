import postgres from 'postgres';
import { afterAll, describe, expect, test } from 'vitest';
import { runDedupe } from '../../shared/tools/dedupe/run-dedupe.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { duplicateRows, expectedWinners, insertRows, keyOf, randomSource, type StoredRow } from '../helpers/duplicates.ts';

const db = await createTestDatabase();
const SEED = Number(process.env.DEDUPE_SEED ?? 7);

/** A client of its own, as the CLI has: CREATE INDEX CONCURRENTLY needs a connection outside any transaction. */
const cli = postgres(db.url, { max: 1, prepare: false, onnotice: () => {} });
afterAll(() => cli.end({ timeout: 5 }));

async function createItems(name: string) {
  await db.sql.unsafe(`CREATE TABLE ${name} (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku text NOT NULL,
    region text,
    version int4,
    payload text NOT NULL)`);
}

const allRows = (table: string) => db.sql.unsafe<StoredRow[]>(`SELECT id::text, sku, region, version, payload FROM ${table}`);

/**
 * Inserts rows until stopped, the way the broken upstream did: `ON CONFLICT DO NOTHING` without a
 * target. Mostly new keys; one insert in a hundred repeats an existing key (a duplicate that
 * slips in). Records what it committed.
 */
function startWriter(table: string, keys: { sku: string; region: string | null }[]) {
  const rnd = randomSource(SEED + 1);
  const committed: string[] = [];
  let rejected = 0;
  let running = true;
  const done = (async () => {
    while (running) {
      const picks = [rnd.next() < 0.01 ? keys[rnd.int(0, keys.length - 1)]! : { sku: `new-${rnd.int(0, 1e9)}`, region: rnd.next() < 0.2 ? null : 'w' }];
      try {
        const rows = await db.sql.unsafe<{ id: string }[]>(
          `INSERT INTO ${table} (sku, region, version, payload)
           SELECT * FROM unnest($1::text[], $2::text[], $3::int4[], $4::text[]) ON CONFLICT DO NOTHING RETURNING id::text`,
          [picks.map((k) => k.sku), picks.map((k) => k.region), picks.map(() => rnd.int(0, 30)), picks.map(() => `writer-${rnd.int(0, 1e9)}`)] as never[],
        );
        committed.push(...rows.map((r) => r.id));
      } catch (error) {
        // While CREATE UNIQUE INDEX CONCURRENTLY runs, PostgreSQL already enforces the index it is building.
        if ((error as postgres.PostgresError).code !== '23505') throw error;
        rejected++;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  return {
    committed,
    rejected: () => rejected,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

describe('dedupe of 10,000 duplicate groups with NULL keys and a concurrent writer', () => {
  test('leaves exactly the winner of every key, backs up every removed row, ends with a valid unique index', async () => {
    // GIVEN 10,000 keys stored 2–50 times (every tenth with a NULL region) and 2,000 unique keys
    await createItems('items');
    const seeded = duplicateRows(SEED, 10_000, 2_000);
    await insertRows(db.sql, 'items', seeded);
    const original = await allRows('items');
    expect(original.length).toBe(seeded.length);
    const keys = [...new Map(original.map((r) => [keyOf(r), { sku: r.sku, region: r.region }])).values()];

    // WHEN dedupe runs while a writer keeps inserting copies of existing keys
    const writer = startWriter('items', keys);
    let summary;
    try {
      await new Promise((r) => setTimeout(r, 50));
      summary = await runDedupe(cli, { table: { schema: 'public', name: 'items' }, key: ['sku', 'region'], keep: { kind: 'newest', column: 'version' }, batchSize: 5_000 });
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      await writer.stop();
    }
    console.log(`seed ${SEED}: ${seeded.length} rows, writer committed ${writer.committed.length}, rejected ${writer.rejected()}; summary`, { ...summary, restore: undefined });

    // THEN one row per key (NULL regions equal), the winner by (version NULLS LAST, id) among every row ever stored
    const left = await allRows('items');
    const backup = await db.sql.unsafe<StoredRow[]>(`SELECT id::text, sku, region, version, payload FROM ${summary.backupTable}`);
    expect(writer.committed.length).toBeGreaterThan(0);
    const everything = [...left, ...backup];
    expect(new Set(everything.map((r) => r.id)).size).toBe(everything.length);
    expect(new Set(everything.map((r) => r.id))).toEqual(new Set([...original.map((r) => r.id), ...writer.committed]));
    const winners = expectedWinners(everything, (a, b) => Number(BigInt(a.id) - BigInt(b.id)));
    expect(left.length).toBe(winners.size);
    expect(new Set(left.map((r) => r.id))).toEqual(new Set([...winners.values()].map((r) => r.id)));

    // AND the backup holds the removed rows unchanged
    const byId = new Map(original.map((r) => [r.id, r]));
    for (const row of backup) if (byId.has(row.id)) expect(row).toEqual(byId.get(row.id));
    expect(summary.removedTotal).toBe(backup.length);

    // AND the unique index exists, is valid and NULLS NOT DISTINCT; nothing is left to clean
    const [index] = await db.sql`
      SELECT i.indisvalid AS valid, i.indisready AS ready, i.indnullsnotdistinct AS nnd
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = ${summary.indexName}`;
    expect(index).toEqual({ valid: true, ready: true, nnd: true });
    const [dups] = await db.sql`SELECT count(*)::int AS n FROM (SELECT 1 FROM items GROUP BY sku, region HAVING count(*) > 1) g`;
    expect(dups!.n).toBe(0);
    expect(summary.remainingDuplicateGroups).toBe(0);
    const [run] = await db.sql`SELECT status, removed::int AS removed FROM landfall_backup.dedupe_runs WHERE backup_table = ${summary.backupTable.split('.')[1]!.replaceAll('"', '')}`;
    expect(run).toEqual({ status: 'done', removed: backup.length });
  });
});

describe('a duplicate that slips in before the index', () => {
  test('fails CREATE INDEX CONCURRENTLY once, is cleaned up, and the retry succeeds', async () => {
    // GIVEN a small table with duplicates
    await createItems('retry');
    await insertRows(db.sql, 'retry', duplicateRows(SEED + 2, 50, 10, [2, 4]));
    let slipped = '';

    // WHEN a writer adds a newer copy of an existing key right before the first index attempt
    const summary = await runDedupe(
      cli,
      { table: { schema: 'public', name: 'retry' }, key: ['sku', 'region'], keep: { kind: 'newest', column: 'version' }, batchSize: 17 },
      {
        beforeIndex: async (attempt) => {
          if (attempt !== 1) return;
          const [row] = await db.sql`INSERT INTO retry (sku, region, version, payload) SELECT sku, region, 1000, 'late' FROM retry ORDER BY id LIMIT 1 RETURNING id::text`;
          slipped = row!.id;
        },
      },
    );

    // THEN the second attempt creates the index; the late row won (newest), its older copy is in the backup
    expect(summary.indexAttempts).toBe(2);
    expect(summary.indexCreated).toBe(true);
    const [late] = await db.sql`SELECT count(*)::int AS n FROM retry WHERE id = ${slipped}`;
    expect(late!.n).toBe(1);
    const invalid = await db.sql`SELECT 1 FROM pg_index WHERE indrelid = 'retry'::regclass AND NOT indisvalid`;
    expect(invalid.length).toBe(0);
    const [dups] = await db.sql`SELECT count(*)::int AS n FROM (SELECT 1 FROM retry GROUP BY sku, region HAVING count(*) > 1) g`;
    expect(dups!.n).toBe(0);
  });
});
