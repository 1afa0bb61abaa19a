import { expect, test } from 'vitest';
import { producerWorkerCount } from '../../shared/producer/block-workers.ts';

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
