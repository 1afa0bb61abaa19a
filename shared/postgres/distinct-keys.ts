import type { BatchData } from '../core/batch.ts';
import { canonicalizerFor, type KeyCanonicalizer } from '../core/canonical-key.ts';
import type { UpsertPlan } from '../core/upsert-plan.ts';
import type { TargetTable } from './target-table.ts';

/** Per table: its key columns' canonicalizers when every one is exact, else null. */
const exactCanonicalizers = new WeakMap<TargetTable, KeyCanonicalizer[] | null>();

function canonicalizersOf(target: TargetTable): KeyCanonicalizer[] | null {
  let entry = exactCanonicalizers.get(target);
  if (entry === undefined) {
    const columns = target.config.conflictKey.map((k) => target.catalog.columns.find((c) => c.name === k));
    const canonicalizers = columns.every((c) => c !== undefined)
      ? columns.map((c) => canonicalizerFor({ ...c!, category: c!.category ?? null, collation: c!.collation ?? null }, target.catalog.timeZone ?? 'UTC'))
      : [];
    entry = canonicalizers.length > 0 && canonicalizers.every((c) => c.exact) ? canonicalizers : null;
    exactCanonicalizers.set(target, entry);
  }
  return entry;
}

/**
 * True when no two of the rows `rows` (indexes into the batch; all when null) can be one key to
 * PostgreSQL: their keys' canonical forms (core/canonical-key.ts, the producer's partitioning
 * form: values PostgreSQL holds equal have equal forms) are all different. False when some
 * key column's form is not exact, or two rows share a form (the statement's reduction decides
 * then). Only a hint for speed: the statement that trusts it fails with 21000 where it is wrong,
 * and the caller runs the sorting statement instead (apply-batch.ts).
 */
export function keysProvablyDistinct(target: TargetTable, plan: UpsertPlan, batch: Pick<BatchData, 'values' | 'rowNumbers'>, rows: readonly number[] | null): boolean {
  const canonicalizers = canonicalizersOf(target);
  if (!canonicalizers) return false;
  const inputs = plan.key.map((k) => plan.columns.find((c) => c.name === k)!.input);
  const count = rows === null ? batch.rowNumbers.length : rows.length;
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    const r = rows === null ? i : rows[i]!;
    let form = '';
    for (let k = 0; k < inputs.length; k++) {
      const value = batch.values[inputs[k]!]![r];
      // A NULL key is refused before binding unless the index is NULLS NOT DISTINCT (no unsorted form then).
      if (value === null || value === undefined) return false;
      const canonical = canonicalizers[k]!.canonical(value);
      form = inputs.length === 1 ? canonical : `${form}${canonical.length}:${canonical}`;
    }
    if (seen.has(form)) return false;
    seen.add(form);
  }
  return true;
}
