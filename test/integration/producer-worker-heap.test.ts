import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';

/**
 * Issue 26 item 3: under Lambda's flags (`--max-semi-space-size`, set by its Node.js runtime from
 * the function's memory) a block worker still gets its own young generation, not the main
 * thread's: V8 takes the process's flag over a worker's `resourceLimits`, and each worker then
 * kept 32 MB of new space. Run in a process of its own started with the flag.
 */
const blockWorkers = pathToFileURL(join(import.meta.dirname, '..', '..', 'shared', 'producer', 'block-workers.ts')).href;
const child = `
import { getHeapStatistics } from 'node:v8';
import { BlockWorkers, blockWorkerScript } from ${JSON.stringify(blockWorkers)};
const mainBefore = getHeapStatistics().heap_size_limit;
const workers = new BlockWorkers(2, blockWorkerScript());
const job = { dialect: { delimiter: ',', encoding: 'utf-8' }, prefix: Buffer.from('id\\n'), prefixLines: 1, columns: ['id'], keyIndexes: [0], keyTypes: null, timeZone: 'UTC', partitions: 1, format: { decimal: '.', thousands: '', dates: {} }, numericColumns: null };
const id = workers.addJob(job);
// Two workers started at once (both isolates are made while the flag is cleared), then used.
await Promise.all([1, 2].map(() => workers.run(id, { bytes: Buffer.from('1\\n2\\n'), lookahead: null, final: true })));
const limits = (await workers.heapStatistics()).map((h) => h.heap_size_limit);
console.log(JSON.stringify({ limits, mainBefore, mainAfter: getHeapStatistics().heap_size_limit }));
await workers.close();
`;

test('a block worker gets its own young generation when the process was started with a semi-space size', async () => {
  const run = async (flags: string[]) => {
    const { stdout } = await promisify(execFile)(process.execPath, [...flags, '--import', 'tsx', '--input-type=module', '-e', child], { env: { ...process.env, NODE_OPTIONS: '' } });
    return JSON.parse(stdout) as { limits: number[]; mainBefore: number; mainAfter: number };
  };
  const own = await run([]);
  const lambda = await run(['--max-semi-space-size=12']);
  expect(own.limits).toHaveLength(2);
  // The workers' heap limits (old + young generation) are those of their resourceLimits, flag or not.
  expect(lambda.limits).toEqual(own.limits);
  // The main thread's heap keeps what the flag set.
  expect(lambda.mainAfter).toBe(lambda.mainBefore);
}, 60_000);
