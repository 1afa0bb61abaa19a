import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { parseConfig } from '../../shared/core/config.ts';
import { QueueSettings } from '../../shared/core/resources.ts';
import { dropFile, tableForFile, waitForFile } from '../../shared/local/run-files.ts';
import { startLocalStack } from '../../shared/local/stack.ts';
import { restartableDatabase } from '../helpers/restartable-database.ts';
import { csvOf } from '../helpers/producer-files.ts';

const ROWS = 3_000;

/**
 * Issue 19 item 4 in `npm test`: a PostgreSQL restart mid-load, with the stack's own visibility
 * timeouts (6 minutes for the batches queue), directly or through pgbouncer (which stays up while
 * the server restarts, as RDS Proxy does). The file must complete within this test's time, far
 * under one visibility timeout: the records the restart failed came back within seconds. The
 * bench (`npm run bench:recovery`) measures the same at 200,000 rows.
 */
export function defineRestartRecoveryTest(through: 'direct' | 'pgbouncer'): void {
  test(`a PostgreSQL restart mid-load (${through}): the load completes within seconds of the restart, not at the ${QueueSettings.batches.visibilityTimeoutSeconds} s visibility timeout; every row once`, async () => {
    const database = await restartableDatabase('landfall-restart-', through === 'pgbouncer' ? { pgbouncerPoolSize: 8 } : {});
    const { dir, admin, databaseUrl } = database;
    await admin`CREATE TABLE restart_items (id int PRIMARY KEY, val text, v int NOT NULL)`;
    const config = parseConfig({ tables: [{ table: 'restart_items', conflictKey: ['id'], version: 'v', partitions: 4 }], batch: { maxRows: 100, maxBytes: 1024 * 1024 } });
    const stack = await startLocalStack({ config, home: join(dir, 'home'), databaseUrl, logLevel: 'SILENT' });
    afterAll(() => stack.stop());
    const target = { s3: stack.s3, sql: stack.sql, config, buckets: stack.buckets, pollInbox: stack.pollInbox };
    const path = join(dir, 'restart.csv');
    writeFileSync(path, csvOf(Array.from({ length: ROWS }, (_, i) => ({ id: i, val: `row ${i}`, v: 1 }))));

    // GIVEN a load under way
    const dropped = await dropFile(target, path, tableForFile(config, path));
    for (;;) {
      const [applied] = await admin<{ n: number }[]>`SELECT count(*)::int AS n FROM landfall.batches WHERE status = 'applied'`.catch(() => [{ n: 0 }]);
      if (applied!.n >= 3) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // WHEN the server restarts (a fast shutdown: in-flight transactions aborted, connections dropped)
    await database.restart();

    // THEN the file completes long before a record left to the visibility timeout would come back
    const receipt = await waitForFile(target, dropped, { timeoutMs: 150_000 });
    expect(receipt).toMatchObject({ status: 'complete', addsUp: true, read: ROWS, inserted: ROWS });
    const [check] = await admin<{ rows: number; most: number; batches: number }[]>`
      SELECT (SELECT count(*)::int FROM restart_items) AS rows,
             (SELECT max(applications)::int FROM landfall.batches) AS most,
             (SELECT count(*)::int FROM landfall.batches WHERE status = 'applied') AS batches`;
    expect(check).toEqual({ rows: ROWS, most: 1, batches: receipt.batches });
  }, 180_000);
}
