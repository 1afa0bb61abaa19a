import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parquetMetadata } from 'hyparquet';
import { beforeAll, describe, expect, test } from 'vitest';
import { parseConfig } from '../../shared/core/config.ts';
import { dropFile, tableForFile, waitForFile } from '../../shared/local/run-files.ts';
import { fileReceipts } from '../../shared/postgres/ledger/files.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { startTestStack } from '../helpers/local-stack.ts';
import { csvOf, gzipOf, parquetOf, type Row } from '../helpers/producer-files.ts';

/**
 * Compressed and Parquet files stream their batches through the whole local stack as CSV does,
 * and a file whose end is unreadable loads the rows before the damage, says so, and needs attention.
 */
const db = await createTestDatabase();
const { sql } = db;
const config = parseConfig({
  tables: [{ table: 'items', prefix: 'items/', conflictKey: ['id'], version: 'v', partitions: 2 }],
  batch: { maxRows: 2000, maxBytes: 1024 * 1024 },
});

beforeAll(async () => {
  await sql`CREATE TABLE items (id int PRIMARY KEY, name text, v int NOT NULL, _landfall_arrival text COLLATE "C")`;
});
const t = await startTestStack(config, db.url);

/** `count` rows with ids from `start`: each test keeps to its own ids. */
const itemRows = (count: number, start: number): Row[] => Array.from({ length: count }, (_, i) => ({ id: start + i, name: `item ${start + i}`, v: 1 }));
const storedBetween = async (from: number, to: number) => Number((await sql`SELECT count(*) AS n FROM items WHERE id BETWEEN ${from} AND ${to}`)[0]!.n);

describe('compressed and Parquet files stream their batches', () => {
  test('GIVEN a gzip of many batches WHEN it is dropped THEN the ledger shows batches applied while the producer is still reading it (its batch count not known yet)', async () => {
    const path = t.file('big.csv.gz', gzipOf(csvOf(itemRows(200_000, 1_000_000))));
    const dropped = await dropFile(t.target, path, tableForFile(config, path));

    // The ledger as the run goes: a file the producer is still reading has no batch count yet.
    let appliedWhileReading = 0;
    const receipt = await waitForFile(t.target, dropped, {
      timeoutMs: 300_000,
      onProgress: (r) => {
        if (r && r.batches === null && r.batchesApplied > 0) appliedWhileReading = Math.max(appliedWhileReading, r.batchesApplied);
      },
    });

    expect(appliedWhileReading).toBeGreaterThan(0);
    expect(receipt).toMatchObject({ status: 'complete', state: 'complete', read: 200_000, inserted: 200_000, addsUp: true });
    expect(receipt.batches).toBeGreaterThan(90);
  });
});

describe('a compressed or Parquet file whose end is unreadable', () => {
  test('GIVEN a truncated gzip WHEN landfall run loads it THEN the rows before the cut land, the receipt says it is cut short and adds up, and the run exits 1', async () => {
    const gz = gzipOf(csvOf(itemRows(40_000, 2_000_000)));
    const path = t.file('cut.csv.gz', gz.subarray(0, Math.floor(gz.length * 0.6)));
    const configPath = join(t.dir, 'run-config.json');
    writeFileSync(configPath, JSON.stringify({ tables: [{ table: 'items', prefix: 'items/', conflictKey: ['id'], version: 'v', partitions: 2 }], batch: { maxRows: 2000 } }));

    const result = spawnSync(process.execPath, ['bin/landfall.js', 'run', '--config', configPath, '--database-url', db.url, path], {
      encoding: 'utf8',
      env: { ...process.env, LANDFALL_HOME: join(t.dir, 'cli-home') },
      timeout: 180_000,
    });

    expect(result.status).toBe(1);
    const receipt = JSON.parse(result.stdout.trim()) as { read: number; inserted: number; reason: string; fix: string };
    expect(receipt).toMatchObject({ status: 'complete', state: 'complete, end unreadable', reasonCode: 'corrupt-gzip', rejected: 0, addsUp: true });
    expect(receipt.read).toBeGreaterThan(2000);
    expect(receipt.read).toBeLessThan(40_000);
    expect(receipt.inserted).toBe(receipt.read);
    expect(receipt.reason).toMatch(new RegExp(`^the file is cut short: corrupt gzip data \\(found with ${Math.floor(gz.length * 0.6)} bytes of the file read, \\d+ bytes decompressed\\): unexpected end of file; rows 1 to ${receipt.read} \\(through line ${receipt.read + 1}\\) were read and loaded`));
    expect(receipt.fix).toMatch(/^get the file again whole/);
    // Exactly the rows before the cut are in the table.
    expect(await storedBetween(2_000_000, 2_000_000 + receipt.read - 1)).toBe(receipt.read);
    expect(await storedBetween(2_000_000 + receipt.read, 2_100_000)).toBe(0);
  });

  test('GIVEN a gzip corrupt inside THEN the rows read before the damage land and the receipt says the data is corrupt', async () => {
    const gz = Buffer.from(gzipOf(csvOf(itemRows(40_000, 3_000_000))));
    const at = Math.floor(gz.length * 0.5);
    for (let i = 0; i < 64; i++) gz[at + i] = (i * 37 + 11) & 0xff;

    const receipt = await t.run(t.file('corrupt.csv.gz', gz));

    expect(receipt).toMatchObject({ status: 'complete', state: 'complete, end unreadable', reasonCode: 'corrupt-gzip', addsUp: true });
    expect(receipt.reason).toMatch(/^the file's data is corrupt: corrupt gzip data .*; rows 1 to \d+ \(through line \d+\) were read and loaded, the rest of the file was not\. The damage can lie before/);
    expect(receipt.read).toBeGreaterThan(2000);
    expect((await fileReceipts(sql, { fileIds: [receipt.fileId] }))[0]).toMatchObject({ state: 'complete, end unreadable', fix: expect.stringMatching(/^get the file again whole/) });
  });

  test('GIVEN a Parquet file with a corrupt row group after three good ones THEN their rows land and the receipt names the row group', async () => {
    const parquet = Buffer.from(await parquetOf(itemRows(10_000, 4_000_000), { rowGroupSize: 2000 }));
    const column = parquetMetadata(parquet.buffer.slice(parquet.byteOffset, parquet.byteOffset + parquet.byteLength)).row_groups[3]!.columns[1]!.meta_data!;
    parquet.fill(0xee, Number(column.data_page_offset) + 20, Number(column.data_page_offset) + 50);

    const receipt = await t.run(t.file('corrupt.parquet', parquet));

    expect(receipt).toMatchObject({ status: 'complete', state: 'complete, end unreadable', reasonCode: 'corrupt-parquet', read: 6000, inserted: 6000, addsUp: true });
    expect(receipt.reason).toMatch(/^the end of the file is unreadable: row group 3 \(rows 6001-8000\) cannot be decoded: .*; rows 1 to 6000/);
    expect(await storedBetween(4_000_000, 4_009_999)).toBe(6000);
  });
});
