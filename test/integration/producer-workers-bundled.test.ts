import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, expect, test } from 'vitest';
import { encodeCsvBlock, type CsvBlockJob } from '../../shared/core/block-encoder.ts';
import { BLOCK_WORKER_BUNDLE } from '../../shared/producer/block-worker-bundle.ts';
import { BlockWorkers } from '../../shared/producer/block-workers.ts';

/**
 * Issue 26 item 3: the block workers run from the bundled CLI (`npx landfall`, dist/cli/ built by
 * scripts/build-cli.mjs at install): the build writes the worker's entry beside the chunks that
 * start it, and a worker started from it reads a block as the sources do. (The Lambda asset's
 * worker bundle is run by the deploy rehearsal.)
 */
const root = join(import.meta.dirname, '..', '..');
const { buildCli } = (await import(pathToFileURL(join(root, 'scripts', 'build-cli.mjs')).href)) as { buildCli: () => Promise<{ dir: string }> };
const { dir } = await buildCli();
const script = join(root, 'dist', 'cli', dir, BLOCK_WORKER_BUNDLE.file);
const workers = new BlockWorkers(1, pathToFileURL(script));
afterAll(() => workers.close());

const job: CsvBlockJob = {
  dialect: { delimiter: ',', encoding: 'utf-8' },
  prefix: Buffer.from('id,name,amount\n'),
  prefixLines: 1,
  columns: ['id', 'name', 'amount'],
  keyIndexes: [0],
  keyTypes: [{ name: 'id', type: 'bigint', baseType: 'int8', category: 'N' }],
  timeZone: 'UTC',
  partitions: 4,
  format: { decimal: '.', thousands: '', dates: {} },
  numericColumns: ['amount'],
};

test('the bundled CLI holds the block worker, and it reads a block as the sources do', async () => {
  expect(existsSync(script)).toBe(true);
  const text = Array.from({ length: 200 }, (_, i) => `${i + 1},"name ${i}, ""quoted""",${i}.5`).join('\n') + '\nshort,row\n';
  const input = { bytes: Buffer.from(text), lookahead: null, final: true };
  const expected = (await encodeCsvBlock(job, input)).block;
  const jobId = workers.addJob(job);
  const got = await workers.run(jobId, { ...input, bytes: Buffer.from(text) });
  workers.forgetJob(jobId);
  expect(got.count).toBe(201);
  expect(got.rejects).toHaveLength(1);
  expect(got).toEqual(expected);
});
