import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { FileManifest } from '../shared/core/batch-message.ts';
import { manifestKeyOf } from '../shared/core/keys.ts';
import { EnvVar } from '../shared/environment/env.ts';
import type { ProducerLimits } from '../shared/producer/producer-contract.ts';
import type { FileReceipt } from '../shared/postgres/ledger/files.ts';
import { csvOf } from '../test/helpers/producer-files.ts';
import { functionPool } from './lambda.ts';
import { MAX_RECURSIVE_INVOCATIONS } from './loop-detection.ts';
import { addsUp, expectCounts, items, receiptOf, type ScenarioContext, until } from './scenarios.ts';
import type { RehearsalStack } from './stack.ts';

/**
 * Small segments and no time for a second one: every producer invocation reads about 256 bytes
 * (a dozen rows) and continues the file in the next, so a few hundred rows take dozens of
 * invocations, each through the intake queue, as a file of hundreds of GB does in AWS.
 */
const ONE_SEGMENT_PER_INVOCATION: Partial<ProducerLimits> = { segmentBytes: 256, maxInvocationMs: 1 };

/**
 * Runs `body` with the producer's event source invoking containers whose LANDFALL_PRODUCER_LIMITS
 * (the template's setting) is `limits`: the same bundle, role, recorder and trace headers.
 */
async function withProducerLimits(stack: RehearsalStack, limits: Partial<ProducerLimits>, body: () => Promise<void>, memoryMiB?: number) {
  const producer = stack.functions.producer;
  const original = producer.pool;
  const spec = { ...producer.spec, ...(memoryMiB ? { memoryMiB } : {}) };
  const pool = functionPool({ ...spec, environment: stack.environmentOf('producer', { [EnvVar.producerLimits]: JSON.stringify(limits) }) }, (line) => stack.logs.push(line));
  producer.pool = pool;
  try {
    await body();
  } finally {
    producer.pool = original;
    await pool.stop();
  }
}

async function manifestOf(stack: RehearsalStack, receipt: FileReceipt): Promise<FileManifest | null> {
  const bucket = stack.functions.producer.spec.environment[EnvVar.stagingBucket]!;
  const object = await stack.s3.send(new GetObjectCommand({ Bucket: bucket, Key: manifestKeyOf(receipt.table, receipt.fileId) })).catch(() => null);
  return object?.Body ? (JSON.parse(await object.Body.transformToString()) as FileManifest) : null;
}

/**
 * Issue 24, item 2: a file continued through the intake queue more than 16 times completes under
 * Lambda's loop detection (simulated by the event source mappings: rehearse/loop-detection.ts),
 * because the template lets the producer loop; and a chain that reaches the per-file cap stops
 * with a moved-aside receipt that still adds up.
 */
export async function continuationScenarios({ stack, sql, oracle, scenario }: ScenarioContext): Promise<void> {
  // Issue 26, item 3: the bundled producer's block workers (their own bundle beside the function's,
  // written by the CDK's bundling) read a CSV in blocks when the function has vCPUs for them.
  await scenario('a CSV read by the bundled producer\'s block workers (a 3,008 MB function, small blocks)', async (problems) => {
    const rows = items(3001, 3400, 1);
    const key = 'items/s11-workers.csv';
    await withProducerLimits(
      stack,
      { blockBytes: 1024 },
      async () => {
        await stack.drop(key, csvOf(rows.map((i) => ({ ...i }))));
        const receipt = await until(`${key} to complete`, 120_000, async () => {
          const r = await receiptOf(sql, key);
          return r?.status === 'complete' ? r : undefined;
        }).catch((error: unknown) => void problems.push((error as Error).message));
        if (!receipt) return;
        oracle.apply(rows);
        expectCounts(problems, receipt, { read: rows.length, inserted: rows.length, rejected: 0 });
        const produced = stack.logs.find((l) => l.function === 'producer' && l.text.includes('"file produced"') && l.text.includes('s11-workers'));
        const blocks = produced ? (JSON.parse(produced.text.slice(produced.text.indexOf('{'))) as { blockWorkers?: number; workerBlocks?: number }) : null;
        if (!blocks) problems.push(`no "file produced" log line for ${key}`);
        else if (!blocks.blockWorkers || !blocks.workerBlocks) problems.push(`${key} was not read by block workers: ${JSON.stringify({ blockWorkers: blocks.blockWorkers, workerBlocks: blocks.workerBlocks })}`);
      },
      3008,
    );
  });

  await scenario(`a file that needs more than ${MAX_RECURSIVE_INVOCATIONS} producer invocations completes (loop detection simulated)`, async (problems) => {
    const loop = stack.loops.producer;
    const droppedBefore = loop.dropped;
    const rows = items(1001, 1300, 1);
    await withProducerLimits(stack, { ...ONE_SEGMENT_PER_INVOCATION, maxInvocationsPerFile: 100 }, async () => {
      const key = 'items/s9-continued.csv';
      await stack.drop(key, csvOf(rows.map((i) => ({ ...i }))));
      const receipt = await until(`${key} to complete`, 240_000, async () => {
        const r = await receiptOf(sql, key);
        return r?.status === 'complete' ? r : undefined;
      }).catch((error: unknown) => {
        problems.push(`${(error as Error).message}: the chain stopped after ${loop.maxHops} invocations, loop detection (RecursiveLoop ${loop.recursiveLoop}) dropped ${loop.dropped - droppedBefore}`);
        return undefined;
      });
      if (!receipt) return;
      oracle.apply(rows);
      expectCounts(problems, receipt, { read: rows.length, inserted: rows.length, rejected: 0 });
      const manifest = await manifestOf(stack, receipt);
      const invocations = manifest?.invocations ?? 0;
      if (invocations <= MAX_RECURSIVE_INVOCATIONS) problems.push(`the file took ${invocations} invocations; the scenario needs more than ${MAX_RECURSIVE_INVOCATIONS}`);
      if (loop.maxHops < invocations) problems.push(`loop detection saw a chain of ${loop.maxHops} hops for ${invocations} invocations: the trace header did not travel with the continuations`);
    });
    if (loop.dropped > droppedBefore) problems.push(`loop detection dropped ${loop.dropped - droppedBefore} deliveries of a continuation (RecursiveLoop ${loop.recursiveLoop}); SQS then moves it to the intake DLQ`);
  });

  await scenario('a runaway chain stops at the per-file cap: moved aside with its reason, what was read applied and accounted for', async (problems) => {
    const rows = items(2001, 2300, 1);
    await withProducerLimits(stack, { ...ONE_SEGMENT_PER_INVOCATION, maxInvocationsPerFile: 3 }, async () => {
      const key = 'items/s10-runaway.csv';
      await stack.drop(key, csvOf(rows.map((i) => ({ ...i }))));
      // Stopped: the moved-aside manifest lists the batches sent while the file was read; the
      // ledger shows the file with its reason once they are applied (a file with applied
      // batches is never "moved aside, not read": it shows what was applied).
      const { receipt, manifest } = await until(`${key} to stop with its batches applied`, 120_000, async () => {
        const r = await receiptOf(sql, key);
        if (r?.reasonCode !== 'too-many-invocations') return undefined;
        const m = await manifestOf(stack, r);
        return m && r.batchesApplied >= m.batchCount ? { receipt: r, manifest: m } : undefined;
      });
      // The rows read before the stop were sent as they were read: rows 1..read of the file.
      oracle.apply(rows.slice(0, receipt.read));
      if (!/more than 3 producer invocations/.test(receipt.reason ?? '')) problems.push(`the reason does not name the cap: ${receipt.reason}`);
      if (receipt.read !== manifest.read) problems.push(`the receipt reads ${receipt.read} rows, the manifest ${manifest.read}`);
      if (!(receipt.read > 0 && receipt.read < rows.length)) problems.push(`read ${receipt.read} of ${rows.length}: expected a part of the file`);
      if (!addsUp(receipt)) problems.push(`the receipt does not add up: ${JSON.stringify(receipt)}`);
      if (manifest.invocations !== 3) problems.push(`the file took ${manifest.invocations} invocations, expected 3 (the cap)`);
    });
  });
}
