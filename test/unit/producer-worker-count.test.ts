import { expect, test } from 'vitest';
import { producerWorkerCount, semiSpaceFlagOf } from '../../shared/producer/block-workers.ts';

// Issue 26 item 3: block workers by the function's vCPUs (one per 1,769 MB), at most the cores it sees; below 1.5 vCPUs none (one thread, as before).
test.each([
  [1024, 2, 0],
  [1769, 2, 0],
  [2653, 2, 0],
  [3008, 2, 2],
  [3008, 1, 1],
  [5308, 2, 2],
  [5308, 8, 3],
  [10240, 6, 6],
])('%i MB with %i cores: %i block workers', (memoryMiB, cores, workers) => {
  expect(producerWorkerCount(memoryMiB, cores)).toBe(workers);
});

// The semi-space size the process was started with, which V8 would give every worker instead of its own limits.
test.each([
  [['--max-semi-space-size=12'], '', '12'],
  [[], '--max-old-space-size=230 --max-semi-space-size=12', '12'],
  [['--max_semi_space_size', '8'], '', '8'],
  [['--max-semi-space-size=12'], '--max-semi-space-size=16', '12'],
  [['--max-old-space-size=230'], '', null],
  [[], '', null],
])('semi-space flag of %j and NODE_OPTIONS "%s": %s', (execArgv, nodeOptions, flag) => {
  expect(semiSpaceFlagOf(execArgv, nodeOptions)).toBe(flag);
});
