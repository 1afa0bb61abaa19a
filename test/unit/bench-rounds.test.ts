import { describe, expect, test } from 'vitest';
import { addFastest, median, medianInterval, medianSettled, ratioOf, type RoundResults } from '../../bench/rounds.ts';

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

  test('the median interval is the whole range for a few rounds and leaves out one outlier at each end from 8 rounds on', () => {
    expect(medianInterval([0.9, 0.5, 1.0])).toEqual({ low: 0.5, high: 1.0 });
    expect(medianInterval([0.9, 0.5, 1.0, 0.95, 0.92, 0.91, 0.93])).toEqual({ low: 0.5, high: 1.0 });
    expect(medianInterval([0.9, 0.5, 1.0, 0.95, 0.92, 0.91, 0.93, 1.6])).toEqual({ low: 0.9, high: 1.0 });
  });

  test('GIVEN one slow round out of three WHEN asked whether the median settled THEN not; eight rounds with the same outliers THEN yes', () => {
    expect(medianSettled([0.9, 0.5, 1.0])).toBe(false);
    expect(medianSettled([0.9, 0.92, 0.95])).toBe(true);
    expect(medianSettled([0.9, 0.5, 1.0, 0.95, 0.92, 0.91, 0.93, 1.6])).toBe(true);
  });

  test('a limit made of two references is the faster of them in each round', () => {
    const r = results({ a: [2, 1, 3], b: [1, 4, 2] });

    addFastest(r, 'limit', ['a', 'b']);

    expect(r.seconds.get('limit')).toEqual([1, 1, 2]);
    expect(r.notes.get('limit')).toBe('fastest per round: 1× a, 2× b');
  });
});
