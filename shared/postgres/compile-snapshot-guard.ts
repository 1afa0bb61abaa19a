import { quoteIdent as q } from '../core/identifiers.ts';
import { SNAP_ARRIVAL } from '../core/snapshot-plan.ts';
import type { UpsertPlan } from '../core/upsert-plan.ts';

/**
 * The parts of the snapshot rule the upsert statement (compile-upsert.ts) takes: a row older
 * than its scope's newest snapshot is stale, and a write clears the soft-delete column. The
 * removal's own statements are in compile-removal.ts.
 */

/** `w."a" = x."a" AND …` over the scope columns; true for the whole table. */
export function scopeJoin(scope: readonly string[], a: string, b: string): string {
  return scope.length ? scope.map((s) => `${a}.${q(s)} = ${b}.${q(s)}`).join(' AND ') : 'true';
}

/**
 * True when the row `alias` (with its scope columns and arrival column) is older than its
 * scope's newest snapshot: the snapshot settled that scope after the row's file arrived, so the
 * row is stale (a late older file can bring no removed row back, nor change the scope). Null for
 * a table that is not a snapshot table.
 */
export function supersededBy(plan: Pick<UpsertPlan, 'snapshot' | 'arrivalColumn'>, alias: string): string | null {
  const snapshot = plan.snapshot;
  if (!snapshot || !plan.arrivalColumn) return null;
  const arrival = `${alias}.${q(plan.arrivalColumn)}`;
  return `EXISTS (SELECT 1 FROM ${snapshot.scopes} AS w WHERE ${scopeJoin(snapshot.scope, 'w', alias)} AND w.${q(SNAP_ARRIVAL)} COLLATE "C" > ${arrival} COLLATE "C")`;
}

/** `changed`, widened by the soft-delete rule: a stored row marked deleted changes when it is written again (its mark is cleared). */
export function withRevival(plan: Pick<UpsertPlan, 'snapshot'>, changed: string | null, cur: string): string | null {
  const soft = plan.snapshot?.softDelete;
  if (!soft) return changed;
  const revived = `${cur}.${q(soft)} IS NOT NULL`;
  return changed ? `(${changed} OR ${revived})` : revived;
}

/** The soft-delete column's assignment on every update (`"deleted_at" = NULL`), or none. */
export const reviveAssignments = (plan: Pick<UpsertPlan, 'snapshot'>): string[] => (plan.snapshot?.softDelete ? [`${q(plan.snapshot.softDelete)} = NULL`] : []);

