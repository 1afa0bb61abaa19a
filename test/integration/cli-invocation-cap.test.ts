import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { runCommand } from '../../cli/commands/run.ts';
import { statusCommand } from '../../cli/commands/status.ts';
import { EnvVar } from '../../shared/environment/env.ts';
import { checkLedger, fileReceipts } from '../../shared/postgres/ledger/files.ts';
import { captureIo } from '../helpers/cli.ts';
import { createTestDatabase } from '../helpers/database.ts';

// Follow-up to issue 24, item 2: a streaming file stopped by the producer's per-file invocation
// cap (too-many-invocations) sent the batches of the part it read. Once they are applied it must
// be final ("stopped", its rows accounted for), not "in progress" for ever, and `landfall run`
// must exit 1 saying so. Through `landfall run`'s local stack, with the cap set as the stack sets
// it on the Lambda (LANDFALL_PRODUCER_LIMITS): segments of 2 KiB, one per invocation, 2 invocations.
const db = await createTestDatabase();
await db.sql`CREATE TABLE capped (id int PRIMARY KEY, v int NOT NULL)`;
const dir = mkdtempSync(join(tmpdir(), 'landfall-cap-'));
const configPath = join(dir, 'landfall.json');
writeFileSync(configPath, JSON.stringify({ tables: [{ table: 'capped', prefix: 'capped/', conflictKey: ['id'], partitions: 2 }], batch: { maxRows: 50 } }));
const ROWS = 3000;
const data = join(dir, 'big.csv');
// About 30 KB: some 15 segments, far more than the cap lets the producer read.
writeFileSync(data, `id,v\n${Array.from({ length: ROWS }, (_, i) => `${i + 1},${i % 97}`).join('\n')}\n`);
const LIMITS = JSON.stringify({ segmentBytes: 2048, maxInvocationMs: 1, maxInvocationsPerFile: 2 });

test('a file stopped by the invocation cap ends "stopped" with its rows accounted for; run and status exit 1', async () => {
  const io = captureIo({ LANDFALL_HOME: join(dir, 'home'), [EnvVar.producerLimits]: LIMITS });

  // A file that never ends would wait out the timeout (exit 2); it must end well before.
  const code = await runCommand([data], { config: configPath, databaseUrl: db.url, json: true, progress: false, timeout: 120 }, io);

  const receipt = JSON.parse(io.out().trim());
  const [counted] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM capped`;
  const stored = counted?.n;
  expect({ code, status: receipt.status, state: receipt.state, reasonCode: receipt.reasonCode, addsUp: receipt.addsUp }).toEqual({
    code: 1,
    status: 'stopped',
    state: 'stopped',
    reasonCode: 'too-many-invocations',
    addsUp: true,
  });
  // The part read is what landed, every row of it accounted for; the rest was not read.
  expect(receipt.read).toBeGreaterThan(0);
  expect(receipt.read).toBeLessThan(ROWS);
  expect(receipt.loaded).toBe(receipt.read);
  expect(stored).toBe(receipt.read);
  expect(receipt.batchesApplied).toBe(receipt.batches);
  expect(receipt.reason).toMatch(/more than 2 producer invocations.*stopped after row \d+/);
  expect(receipt.fix).toMatch(/split the file|raise the cap/);
  expect(io.err()).toMatch(/stopped part-way by the producer's per-file invocation cap \(too-many-invocations\)/);

  // `landfall status`: the same final state, exit 1, in the table and in detail.
  const table = captureIo();
  expect(await statusCommand(undefined, { databaseUrl: db.url }, table)).toBe(1);
  expect(table.out()).toMatch(/capped\/big\.csv\s+capped\s+stopped\s/);
  expect(table.out()).toMatch(/1 stopped part-way/);
  expect(table.out()).not.toMatch(/in progress\s/);
  const detail = captureIo();
  expect(await statusCommand('capped/big.csv', { databaseUrl: db.url }, detail)).toBe(1);
  expect(detail.out()).toMatch(/Accounting\s+read [\d,]+ = .*: adds up/);

  // The ledger check does not call it a moved-aside file with applied batches (its --repair would reopen it).
  expect((await checkLedger(db.sql)).filter((f) => f.fileId === receipt.fileId)).toEqual([]);
  expect((await fileReceipts(db.sql, { fileIds: [receipt.fileId] }))[0]?.status).toBe('stopped');
});
