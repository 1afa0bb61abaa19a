import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { quarantineCloseCommand, quarantineExportCommand, quarantineLsCommand, quarantineRetryCommand } from '../../cli/commands/quarantine.ts';
import { main } from '../../cli/main.ts';
import { quarantineEvents } from '../../shared/postgres/quarantine-review.ts';
import type { BatchData } from '../../shared/core/batch.ts';
import { fileReceipts, registerFile } from '../../shared/postgres/ledger/files.ts';
import { manifestKeyOf } from '../../shared/core/keys.ts';
import { listQuarantine } from '../../shared/postgres/quarantine-retry.ts';
import { replayBatch } from '../../shared/postgres/replay-batch.ts';
import type { TargetTable } from '../../shared/postgres/target-table.ts';
import { makeBatch } from '../helpers/batches.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { prepare } from '../helpers/engine.ts';
import { manifestOf } from '../helpers/manifests.ts';
import { captureIo } from '../helpers/cli.ts';

const { sql, url } = await createTestDatabase();
const dir = mkdtempSync(join(tmpdir(), 'landfall-quarantine-'));
const configPath = join(dir, 'config.json');
writeFileSync(configPath, JSON.stringify({ tables: [{ table: 'orders', conflictKey: ['id'] }, { table: 'lines', conflictKey: ['id'] }] }));

/** A one-batch file through the replay path (as after a poison batch): bad rows quarantined, the rest applied. */
async function replayed(target: TargetTable, rows: Record<string, string | null>[]): Promise<BatchData> {
  const batch = makeBatch({ table: target.config.table, rows });
  await registerFile(sql, manifestOf(batch), manifestKeyOf(batch.table, batch.fileId));
  await replayBatch(sql, target, batch);
  return batch;
}

let orders: BatchData;
let fkOnly: BatchData;
let fkAndCheck: BatchData;

beforeAll(async () => {
  await sql`CREATE TABLE customers (id int PRIMARY KEY)`;
  await sql`INSERT INTO customers SELECT generate_series(1, 3)`;
  await sql`CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers, placed date NOT NULL, note text)`;
  await sql`CREATE TABLE lines (id int PRIMARY KEY, customer_id int REFERENCES customers, qty int CHECK (qty > 0))`;
  const ordersTable = await prepare(sql, { table: 'orders', conflictKey: ['id'] });
  const linesTable = await prepare(sql, { table: 'lines', conflictKey: ['id'] });
  // `orders` is only listed and exported; `lines` is retried.
  orders = await replayed(ordersTable, [
    { id: '1', customer_id: '1', placed: '2026-03-01', note: 'fine' },
    { id: '2', customer_id: '99', placed: '2026-03-01', note: 'secret-note-2' },
    { id: '3', customer_id: '2', placed: 'not a date', note: 'secret-note-3' },
    { id: '4', customer_id: '3', placed: '2026-03-02', note: 'fine' },
  ]);
  fkOnly = await replayed(linesTable, [
    { id: '1', customer_id: '1', qty: '1' },
    { id: '2', customer_id: '50', qty: '2' },
  ]);
  fkAndCheck = await replayed(linesTable, [
    { id: '3', customer_id: '51', qty: '3' },
    { id: '4', customer_id: '1', qty: '0' },
  ]);
});

test('quarantine ls shows each open row with file, row number, SQLSTATE, constraint or column and message, without its values', async () => {
  const io = captureIo();

  const code = await quarantineLsCommand({ databaseUrl: url, table: 'orders' }, io);

  expect(code).toBe(0);
  const lines = io.out().split('\n');
  expect(lines[0]).toMatch(/^ID\s+TABLE\s+FIRST SEEN\s+FILE\s+ROW\s+BATCH\s+SQLSTATE\s+CONSTRAINT\/COLUMN\s+ATTEMPTS\s+MESSAGE$/);
  const rows = lines.slice(1).filter((l) => l.includes(orders.file.key)).map((l) => l.trim().split(/\s{2,}/));
  expect(rows.map((r) => [r[1], ...r.slice(3, 8)])).toEqual([
    ['orders', orders.file.key, '2', orders.batchId.slice(0, 12), '23503', 'orders_customer_id_fkey'],
    ['orders', orders.file.key, '3', orders.batchId.slice(0, 12), '22007', 'column placed'],
  ]);
  expect(rows[0]![2]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  expect(rows[0]![9]).toMatch(/violates foreign key constraint "orders_customer_id_fkey"/);
  expect(io.out()).not.toContain('secret-note');
});

test('quarantine ls --json gives each row with its values and reason', async () => {
  const io = captureIo();

  await quarantineLsCommand({ databaseUrl: url, table: 'orders', json: true }, io);

  const { rows, truncated } = JSON.parse(io.out());
  expect(truncated).toBe(false);
  expect(rows).toEqual([
    expect.objectContaining({
      table: 'orders',
      file: orders.file.key,
      batchId: orders.batchId,
      rowNumber: 2,
      row: { id: '2', customer_id: '99', placed: '2026-03-01', note: 'secret-note-2' },
      reason: expect.objectContaining({ sqlstate: '23503', constraint: 'orders_customer_id_fkey' }),
    }),
    expect.objectContaining({ rowNumber: 3, reason: expect.objectContaining({ sqlstate: '22007', column: 'placed' }) }),
  ]);
});

test('quarantine ls --batch takes the short batch id it prints and shows only that batch', async () => {
  const io = captureIo();

  await quarantineLsCommand({ databaseUrl: url, batch: fkAndCheck.batchId.slice(0, 12), json: true }, io);

  expect(JSON.parse(io.out()).rows.map((r: { batchId: string; rowNumber: number }) => [r.batchId, r.rowNumber])).toEqual([
    [fkAndCheck.batchId, 1],
    [fkAndCheck.batchId, 2],
  ]);
});

test('quarantine ls --limit shows the first rows and says that more are open', async () => {
  const io = captureIo();

  await quarantineLsCommand({ databaseUrl: url, table: 'orders', limit: 1 }, io);

  expect(io.out().split('\n').filter((l) => l.includes(orders.file.key))).toHaveLength(1);
  expect(io.out()).toContain('First 1 row shown; more are open');
});

test('quarantine export --out writes one NDJSON line per open row, with the row and the reason', async () => {
  const out = join(dir, 'orders.ndjson');

  const code = await quarantineExportCommand({ databaseUrl: url, table: 'orders', out }, captureIo());

  expect(code).toBe(0);
  const records = readFileSync(out, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
  expect(records.map((r) => [r.rowNumber, r.row.note, r.reason.sqlstate])).toEqual([
    [2, 'secret-note-2', '23503'],
    [3, 'secret-note-3', '22007'],
  ]);
});

test('quarantine retry after inserting the missing FK parent applies the row, clears it, and exits 0', async () => {
  // GIVEN the parent the quarantined row points at now exists
  await sql`INSERT INTO customers VALUES (50)`;
  const io = captureIo();

  const code = await quarantineRetryCommand({ databaseUrl: url, config: configPath, batch: fkOnly.batchId, json: true }, io);

  expect(code).toBe(0);
  expect(JSON.parse(io.out())).toEqual({ applied: 1, stillFailing: 0, resolvedElsewhere: 0, failing: [] });
  expect(await sql`SELECT id, customer_id, qty FROM lines WHERE id = 2`).toEqual([{ id: 2, customer_id: 50, qty: 2 }]);
  expect(await listQuarantine(sql, { batchId: fkOnly.batchId })).toEqual([]);
  const [receipt] = await fileReceipts(sql, { fileIds: [fkOnly.fileId] });
  expect(receipt).toMatchObject({ read: 2, inserted: 2, quarantined: 0 });
});

test('quarantine retry with a row that still fails: the fixed row applies, the bad one stays with its reason, exit 1', async () => {
  await sql`INSERT INTO customers VALUES (51)`;
  const io = captureIo();

  const code = await quarantineRetryCommand({ databaseUrl: url, config: configPath, batch: fkAndCheck.batchId }, io);

  expect(code).toBe(1);
  expect(io.out()).toContain('Retried 2 rows: 1 applied, 1 still failing.');
  expect(io.out()).toMatch(/^\s*\d+\s+lines\s.*\s2\s+\w+\s+23514\s+lines_qty_check\s+2\s/m);
  expect(await sql`SELECT id FROM lines WHERE id IN (3, 4)`).toEqual([{ id: 3 }]);
  const open = await listQuarantine(sql, { batchId: fkAndCheck.batchId });
  expect(open.map((q) => [q.batchId, q.rowNumber, q.constraint, q.attempts])).toEqual([[fkAndCheck.batchId, 2, 'lines_qty_check', 2]]);
});

test('quarantine retry without a config is one clear error (exit 2) and retries nothing', async () => {
  const run = quarantineRetryCommand({ databaseUrl: url, table: 'orders' }, captureIo());

  await expect(run).rejects.toMatchObject({ name: 'CliError', exitCode: 2, message: expect.stringContaining('needs the table config') });
  expect(await listQuarantine(sql, { table: 'orders' })).toHaveLength(2);
});

describe('the quarantine lifecycle: retry keeps the full error; resolve and dismiss close rows with a reason, kept for audit', () => {
  test('quarantine retry of a value that still does not cast keeps the full message, column and type included', async () => {
    const [before] = (await listQuarantine(sql, { table: 'orders' })).filter((q) => q.rowNumber === 3);
    expect(before!.message).toMatch(/^column "placed" \(date\): invalid input syntax for type date/);

    const code = await quarantineRetryCommand({ databaseUrl: url, config: configPath, table: 'orders' }, captureIo());

    expect(code).toBe(1);
    const [after] = (await listQuarantine(sql, { table: 'orders' })).filter((q) => q.rowNumber === 3);
    expect(after).toMatchObject({ message: before!.message, sqlstate: '22007', column: 'placed', attempts: before!.attempts + 1 });
  });

  test('--table takes schema.table for a table the quarantine names without it, and a typo gets a guess', async () => {
    const io = captureIo();
    await quarantineLsCommand({ databaseUrl: url, table: 'public.orders', json: true }, io);
    expect(JSON.parse(io.out()).rows).toHaveLength(2);

    await expect(quarantineLsCommand({ databaseUrl: url, table: 'ordrs' }, captureIo())).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringContaining('table "ordrs" is not in the config or the quarantine (did you mean "orders"?)'),
    });
  });

  test('quarantine resolve ID --reason closes that row: ls no longer shows it, ls --all does, with how, when and why', async () => {
    const [fk] = (await listQuarantine(sql, { table: 'orders' })).filter((q) => q.rowNumber === 2);
    const io = captureIo({ USER: 'ops-oncall' });

    const code = await quarantineCloseCommand('resolved', [String(fk!.id)], { databaseUrl: url, reason: 'customer 99 loaded by hand, order re-entered' }, io);

    expect(code).toBe(0);
    expect(io.out()).toContain(`Resolved 1 row (id ${fk!.id}): customer 99 loaded by hand, order re-entered`);
    expect((await listQuarantine(sql, { table: 'orders' })).map((q) => q.rowNumber)).toEqual([3]);
    const all = captureIo();
    await quarantineLsCommand({ databaseUrl: url, table: 'orders', all: true, json: true }, all);
    expect(JSON.parse(all.out()).rows.map((r: { rowNumber: number; status: string; resolution?: object }) => [r.rowNumber, r.status, r.resolution])).toEqual([
      [2, 'resolved', { how: 'resolved', reason: 'customer 99 loaded by hand, order re-entered', at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) }],
      [3, 'open', undefined],
    ]);
    const table = captureIo();
    await quarantineLsCommand({ databaseUrl: url, table: 'orders', all: true }, table);
    expect(table.out()).toMatch(/^ID\s+STATUS\s+TABLE/);
    expect(table.out()).toContain('resolved 20');
    // The audit trail: who, when, why; and the database user.
    expect(await quarantineEvents(sql, [fk!.id])).toEqual([
      { quarantineId: fk!.id, action: 'resolved', reason: 'customer 99 loaded by hand, order re-entered', actor: expect.stringMatching(/^ops-oncall@/), databaseUser: expect.any(String), at: expect.any(String) },
    ]);
  });

  test('quarantine dismiss --file closes every open row of that file; a second time closes nothing and says they were closed', async () => {
    const file = fkAndCheck.file.key;
    expect(await listQuarantine(sql, { fileIds: [fkAndCheck.fileId] })).toHaveLength(1);

    const io = captureIo();
    expect(await quarantineCloseCommand('dismissed', [], { databaseUrl: url, file, reason: 'qty 0 rows are test data' }, io)).toBe(0);

    expect(io.out()).toMatch(/^Dismissed 1 row \(id \d+\): qty 0 rows are test data/);
    expect(await listQuarantine(sql, { fileIds: [fkAndCheck.fileId] })).toEqual([]);
    const again = captureIo();
    await quarantineCloseCommand('dismissed', [], { databaseUrl: url, file, reason: 'again', json: true }, again);
    expect(JSON.parse(again.out())).toMatchObject({ dismissed: [], alreadyClosed: expect.arrayContaining([expect.objectContaining({ status: 'dismissed', reason: 'qty 0 rows are test data' })]) });
  });

  test('a row id that is not in the quarantine is an error before anything is closed', async () => {
    const [open] = await listQuarantine(sql, { table: 'orders' });

    await expect(quarantineCloseCommand('resolved', [String(open!.id), '999999'], { databaseUrl: url, reason: 'x' }, captureIo())).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringContaining('no quarantined row 999999; nothing was resolved'),
    });
    expect((await listQuarantine(sql, { table: 'orders' })).map((q) => q.id)).toContain(open!.id);
  });

  test('resolve names its rows and says why: without either it is a usage error, exit 2', async () => {
    const home = { LANDFALL_HOME: join(dir, 'home') };
    const noRows = captureIo(home);
    expect(await main(['node', 'landfall', 'quarantine', 'resolve', '--reason', 'x', '--database-url', url], noRows)).toBe(2);
    expect(noRows.err()).toContain('name the rows: their IDs, --file F, --table T or --batch B');
    const noReason = captureIo(home);
    expect(await main(['node', 'landfall', 'quarantine', 'dismiss', '1', '--database-url', url], noReason)).toBe(2);
    expect(noReason.err()).toContain("required option '--reason <text>' not specified");
  });
});
