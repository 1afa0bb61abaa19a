import type { KeyCanonicalizer } from './canonical-key.ts';
import type { TextValue } from './read/values.ts';

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a over one key value: length-prefixed, NULL distinct from every string. */
function hashValue(h: number, value: TextValue): number {
  if (value === null) return Math.imul(Math.imul(h ^ 0x4e /* N */, FNV_PRIME) ^ 0x3b /* ; */, FNV_PRIME);
  const length = value.length;
  h = Math.imul(h ^ 0x53 /* S */, FNV_PRIME);
  h = Math.imul(h ^ (length & 0xffff), FNV_PRIME);
  h = Math.imul(h ^ (length >>> 16), FNV_PRIME);
  for (let i = 0; i < length; i++) h = Math.imul(h ^ value.charCodeAt(i), FNV_PRIME);
  return h;
}

/** murmur3's avalanche, so that every bit counts, then mod `partitions`. */
function finish(h: number, partitions: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % partitions;
}

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
  let h = FNV_OFFSET;
  for (const value of keyValues) h = hashValue(h, value);
  return finish(h, partitions);
}

/**
 * The partition of a whole row, from the key columns at `keyIndexes`, each through its
 * canonicalizer: `partitionOf(canonicalKey(…))` without building a key per row.
 *
 * @example rowPartitioner(canonicalizers, [0], 8)(['42', 'x']) === partitionOf(['42'], 8)
 */
export function rowPartitioner(canonicalizers: readonly KeyCanonicalizer[], keyIndexes: readonly number[], partitions: number): (values: readonly TextValue[]) => number {
  if (partitions === 1) return () => 0;
  const canonical = canonicalizers.map((c) => c.canonical);
  return (values) => {
    let h = FNV_OFFSET;
    for (let k = 0; k < keyIndexes.length; k++) {
      const value = values[keyIndexes[k]!] ?? null;
      h = hashValue(h, value === null ? null : canonical[k]!(value));
    }
    return finish(h, partitions);
  };
}
