import { describe, expect, test } from 'vitest';
import { median, ratioOf, type RoundResults } from '../../bench/rounds.ts';

const results = (seconds: Record<string, number[]>): RoundResults => ({ seconds: new Map(Object.entries(seconds)), notes: new Map() });

describe('interleaved bench rounds', () => {
  test('median of an odd and an even count', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  test('GIVEN a machine that slows down between rounds WHEN ratios are taken per round THEN the slowdown cancels out', () => {
    // Round 2 runs everything 3× slower; the scenario is twice as fast as the reference throughout.
    const r = results({ copy: [1, 3, 1], engine: [0.5, 1.5, 0.5] });

    expect(ratioOf(r, 'engine', 'copy')).toEqual({ median: 2, min: 2, max: 2 });
  });

  test('the spread is the range of the per-round ratios', () => {
    const r = results({ copy: [1, 1, 1], engine: [1, 2, 4] });

    expect(ratioOf(r, 'engine', 'copy')).toEqual({ median: 0.5, min: 0.25, max: 1 });
  });
});
