/**
 * The block workers' own bundle (see block-workers.ts): built from `entry` into `file`, beside the
 * bundle of the code that starts them (the producer function's, the benchmark's child), so that a
 * worker loads only what it runs and not the AWS SDK. Named once for the CDK and the benchmark.
 */
export const BLOCK_WORKER_BUNDLE = {
  entry: 'shared/producer/block-worker.ts',
  file: 'landfall-block-worker.mjs',
} as const;
