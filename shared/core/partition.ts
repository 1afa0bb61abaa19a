import type { TextValue } from './read/values.ts';

/**
 * The partition of a row: a 32-bit FNV-1a hash over its conflict key values (each
 * length-prefixed, NULL distinct from every string; hashed as UTF-16 code units), finished
 * with murmur3's avalanche so that every bit counts, then mod `partitions`. Pure and stable
 * across files, runs and machines, so one key always lands in the same FIFO message group.
 * The producer hashes the canonical form of each key value (canonical-key.ts), so '1.0' and '1'
 * of a numeric key land together. (Not sha256: this runs once per row on the hot path.)
 *
 * @example partitionOf(['42'], 8) // same number for key 42 in every file
 */
export function partitionOf(keyValues: readonly TextValue[], partitions: number): number {
  if (partitions === 1) return 0;
  let h = 0x811c9dc5;
  const mix = (code: number) => {
    h = Math.imul(h ^ code, 0x01000193);
  };
  for (const value of keyValues) {
    if (value === null) {
      mix(0x4e); // 'N'
      mix(0x3b); // ';'
      continue;
    }
    mix(0x53); // 'S'
    const length = value.length;
    mix(length & 0xffff);
    mix(length >>> 16);
    for (let i = 0; i < length; i++) mix(value.charCodeAt(i));
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % partitions;
}
