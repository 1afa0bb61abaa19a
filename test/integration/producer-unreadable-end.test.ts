import { zstdCompressSync } from 'node:zlib';
import { parquetMetadata } from 'hyparquet';
import { beforeEach, describe, expect, test } from 'vitest';
import { parseBatchMessage, type FileManifest } from '../../shared/core/batch-message.ts';
import { decodeBatch } from '../../shared/producer/batch-object.ts';
import { processIntakeMessage } from '../../shared/producer/intake.ts';
import { catalogSnapshot } from '../helpers/catalog-factory.ts';
import { STAGING, startProducerEmulator } from '../helpers/producer-emulator.ts';
import { csvOf, gzipOf, orderRows, parquetOf, producerConfigFactory } from '../helpers/producer-files.ts';
import { s3EventBody } from '../helpers/s3-event.ts';

/**
 * A compressed or Parquet file streams its batches while it is read; damage found after some
 * rows ends the read there: the rows before it are the file's batches (they may be applied
 * already), and the manifest says where and why the end was unreadable.
 */
const emulator = await startProducerEmulator();
const config = producerConfigFactory({ batch: { maxRows: 500 } });
const ORDERS = catalogSnapshot('orders', { id: 'int8', name: 'text', amount: 'numeric' }, ['id']);
const ROWS = orderRows(20_000);

beforeEach(async () => {
  emulator.reset();
  await emulator.publishSnapshot(ORDERS);
});

let dropped = 0;
async function produce(name: string, body: Uint8Array) {
  const record = await emulator.drop(`orders/u${++dropped}-${name}`, body);
  const [outcome] = await processIntakeMessage(emulator.deps(config), s3EventBody(record));
  return outcome!;
}

const producedManifest = (outcome: Awaited<ReturnType<typeof produce>>): FileManifest => (outcome.status === 'produced' ? outcome.manifest : expect.fail(`outcome ${outcome.status}`));

/** The rows of the manifest's batches, by row number, as the file's columns. */
async function rowsOf(manifest: FileManifest): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  for (const b of manifest.batches) {
    const batch = await decodeBatch(await emulator.getBytes(STAGING, b.stagingKey));
    batch.rowNumbers.forEach((row, r) => out.set(row, batch.values.map((column) => String(column[r]))));
  }
  return out;
}

const batchCountsSent = (fileId: string) =>
  emulator
    .messages()
    .map((m) => parseBatchMessage(m.body))
    .filter((m) => m.fileId === fileId)
    .map((m) => m.batchCount);

/** Asserts the manifest holds exactly the first `read` rows of ROWS, whole, and that they were sent while the file was read. */
async function expectFirstRows(manifest: FileManifest) {
  expect(manifest.read).toBeGreaterThan(1000);
  expect(manifest.read).toBeLessThan(ROWS.length);
  expect(manifest.rejected).toBe(0);
  const rows = await rowsOf(manifest);
  expect(rows.size).toBe(manifest.read);
  for (let row = 1; row <= manifest.read; row++) {
    const want = ROWS[row - 1]!;
    expect(rows.get(row)).toEqual([String(want.id), String(want.name), String(want.amount)]);
  }
  expect(batchCountsSent(manifest.fileId).filter((c) => c === null).length).toBeGreaterThan(0);
}

describe('a compressed or Parquet file whose end is unreadable', () => {
  test('GIVEN a truncated gzip WHEN it is produced THEN the rows before the cut are its batches, sent while it was read, and the manifest says it is cut short where', async () => {
    const gz = gzipOf(csvOf(ROWS));

    const manifest = producedManifest(await produce('cut.csv.gz', gz.subarray(0, Math.floor(gz.length * 0.7))));

    await expectFirstRows(manifest);
    expect(manifest.unreadableEnd).toMatchObject({ code: 'corrupt-gzip', afterRow: manifest.read });
    expect(manifest.unreadableEnd!.message).toBe(
      `the file is cut short: corrupt gzip data (found with ${Math.floor(gz.length * 0.7)} bytes of the file read, ${manifest.unreadableEnd!.message.match(/read, (\d+) bytes decompressed/)![1]} bytes decompressed): unexpected end of file; ` +
        `rows 1 to ${manifest.read} (through line ${manifest.read + 1}) were read and loaded, the rest of the file was not`,
    );
  });

  test('GIVEN a truncated zstd file THEN the same', async () => {
    const zst = zstdCompressSync(csvOf(ROWS));

    const manifest = producedManifest(await produce('cut.csv.zst', zst.subarray(0, Math.floor(zst.length * 0.6))));

    await expectFirstRows(manifest);
    expect(manifest.unreadableEnd).toMatchObject({ code: 'corrupt-compressed', message: expect.stringContaining('cut short') });
  });

  test('GIVEN a gzip corrupt inside WHEN the decompressor finds it THEN the rows read before are its batches and the reason says the data is corrupt, never a row value', async () => {
    const gz = Buffer.from(gzipOf(csvOf(ROWS)));
    const at = Math.floor(gz.length * 0.5);
    for (let i = 0; i < 64; i++) gz[at + i] = (i * 37 + 11) & 0xff;

    const manifest = producedManifest(await produce('corrupt.csv.gz', gz));

    expect(manifest.unreadableEnd).toMatchObject({ code: 'corrupt-gzip', message: expect.stringMatching(/^the file's data is corrupt: corrupt gzip data \(found with \d+ bytes of the file read, \d+ bytes decompressed\): .*; rows 1 to \d+ \(through line \d+\) were read and loaded/) });
    expect(manifest.read).toBe(manifest.rejected + manifest.batches.reduce((n, b) => n + b.rows, 0));
    expect(manifest.read).toBeGreaterThan(0);
    expect(manifest.unreadableEnd!.message).not.toMatch(/name \d/);
  });

  test('GIVEN a Parquet file with a corrupt row group mid-file THEN the row groups before it are its batches and the reason names the row group', async () => {
    const parquet = Buffer.from(await parquetOf(ROWS, { rowGroupSize: 2000 }));
    const metadata = parquetMetadata(parquet.buffer.slice(parquet.byteOffset, parquet.byteOffset + parquet.byteLength));
    const column = metadata.row_groups[6]!.columns[1]!.meta_data!;
    parquet.fill(0xee, Number(column.data_page_offset) + 20, Number(column.data_page_offset) + 50);

    const manifest = producedManifest(await produce('corrupt.parquet', parquet));

    expect(manifest.read).toBe(12_000);
    await expectFirstRows(manifest);
    expect(manifest.unreadableEnd).toMatchObject({ code: 'corrupt-parquet', afterRow: 12_000 });
    expect(manifest.unreadableEnd!.message).toMatch(/^the end of the file is unreadable: row group 6 \(rows 12001-14000\) cannot be decoded: .*; rows 1 to 12000 \(through line 12000\) were read and loaded, the rest of the file was not$/);
  });

  test('damage before the first row (a Parquet footer, a gzip cut inside its first 64 KiB) still moves the file aside whole, nothing sent', async () => {
    const parquet = await parquetOf(ROWS.slice(0, 100));
    const gz = gzipOf(csvOf(ROWS.slice(0, 2000)));

    const footer = await produce('footer.parquet', parquet.subarray(0, parquet.length - 10));
    const head = await produce('head.csv.gz', gz.subarray(0, gz.length - 100));

    expect([footer.status === 'moved-aside' && footer.code, head.status === 'moved-aside' && head.code]).toEqual(['corrupt-parquet', 'corrupt-gzip']);
    expect(emulator.messages().map((m) => JSON.parse(m.body) as { kind?: string }).filter((m) => m.kind !== 'file' && m.kind !== 'opening')).toEqual([]);
  });
});
