import { expect, it } from 'vitest';

// Run only by `.ci/run` (LANDFALL_TEST_PROBE=1): it must fail, and the run must exit non-zero.
it('fails on purpose, so CI can check that a failing test fails the run', () => {
  expect(1).toBe(2);
});
