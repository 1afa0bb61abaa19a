import { expect, test } from 'vitest';
import { migrateLedger } from '../../shared/postgres/ledger/migrate.ts';
import { migrations } from '../../shared/postgres/ledger/migrations.ts';
import { createTestDatabase } from '../helpers/database.ts';

const { sql } = await createTestDatabase();

test('concurrent cold starts migrate once: every migration applied by exactly one caller', async () => {
  const results = await Promise.all(Array.from({ length: 5 }, () => migrateLedger(sql)));

  expect(results.flat().sort()).toEqual(migrations.map((m) => m.name).sort());
  const recorded = await sql`SELECT name FROM landfall.migrations ORDER BY name`;
  expect(recorded.map((r) => r.name)).toEqual(migrations.map((m) => m.name));
});

test('running the migrations again changes nothing', async () => {
  await migrateLedger(sql);

  expect(await migrateLedger(sql)).toEqual([]);
  const tables = await sql`SELECT table_name FROM information_schema.tables WHERE table_schema = 'landfall' ORDER BY table_name`;
  expect(tables.map((t) => t.table_name)).toEqual(['batches', 'blocked_tables', 'files', 'forgotten_files', 'migrations', 'quarantine', 'quarantine_events', 'rejects', 'schema_changes', 'snapshot_batches', 'snapshot_files', 'snapshot_tables', 'tombstone_tables']);
});
