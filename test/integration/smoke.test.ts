import { expect, test } from 'vitest';
import { createTestDatabase } from '../helpers/database.ts';

const db = await createTestDatabase();

test('the test database is a real PostgreSQL 17', async () => {
  const [row] = await db.sql`SELECT current_setting('server_version_num')::int AS version`;
  expect(row?.version).toBeGreaterThanOrEqual(170000);
});
