import type { BatchData } from '../core/batch.ts';
import { quoteIdent as q } from '../core/identifiers.ts';
import type { UpsertPlan } from '../core/upsert-plan.ts';
import type { TxSql } from './db.ts';
import { toPgArrayLiteral } from './pg-array.ts';

/**
 * The look-up that splits a batch by its keys: which of the rows bound have a key the table
 * already stores. Keys are cast (and collated) exactly as the upsert casts them before its
 * reduction, and compared with the arbiter index's equality, so two rows the statement sees as
 * one key land on the same side. Its text depends only on the plan.
 */
export interface CompiledStoredKeyProbe {
  /** `$1…$k`: the key columns' value arrays; returns `ord`, the 1-based position of each row whose key is stored. */
  text: string;
  /** The batch inputs bound as `$1…$k`, in order. */
  keyInputs: number[];
}

/**
 * null for a plan whose keys the index compares as NULLS NOT DISTINCT: `IS NOT DISTINCT FROM`
 * uses no index, so that probe would read the table once per row.
 */
export function compileStoredKeyProbe(plan: UpsertPlan): CompiledStoredKeyProbe | null {
  if (plan.nullsEqual) return null;
  const keys = plan.key.map((name) => plan.columns.find((c) => c.name === name)!);
  // A key compared as another type (a domain over an enum as the enum: keyCasts) is compared so
  // here too, on both sides, as the upsert's key join does; the cast to the base type still uses the index.
  const as = (c: (typeof keys)[number]) => (plan.keyCasts?.[c.name] ? `::${plan.keyCasts[c.name]}` : '');
  const value = (c: (typeof keys)[number], i: number) => `u.k${i}${c.cast ? `::${c.cast}` : ''}${as(c)}${c.collate ? ` COLLATE ${c.collate}` : ''}`;
  return {
    text: `SELECT u.ord::int AS ord
FROM unnest(${keys.map((c, i) => `$${i + 1}::${c.param}[]`).join(', ')}) WITH ORDINALITY AS u(${keys.map((_, i) => `k${i}`).join(', ')}, ord)
WHERE EXISTS (SELECT 1 FROM ${plan.target} AS cur WHERE ${keys.map((c, i) => `cur.${q(c.name)}${as(c)} = ${value(c, i)}`).join(' AND ')})`,
    keyInputs: keys.map((c) => c.input),
  };
}

/** The rows of a batch (indexes into it) by whether their key is stored. */
export interface KeySplit {
  stored: number[];
  fresh: number[];
}

/**
 * Splits `rows` (indexes into the batch; all when null) into those whose key the table stores
 * and those it does not, in one statement of the claiming transaction. null when the plan has
 * no probe. A key written by another transaction after this look-up is caught later: COPY of a
 * "fresh" key it stored meanwhile fails on the unique index, and the caller then upserts.
 */
export async function splitByStoredKeys(tx: TxSql, probe: CompiledStoredKeyProbe | null, batch: BatchData, rows: readonly number[] | null): Promise<KeySplit | null> {
  if (!probe) return null;
  const picked = rows ?? Array.from({ length: batch.rowNumbers.length }, (_, i) => i);
  const params = probe.keyInputs.map((input) => toPgArrayLiteral(picked.map((r) => batch.values[input]![r]!)));
  const found = await tx.unsafe<{ ord: number }[]>(probe.text, params);
  const isStored = new Uint8Array(picked.length);
  for (const { ord } of found) isStored[ord - 1] = 1;
  const split: KeySplit = { stored: [], fresh: [] };
  picked.forEach((r, i) => (isStored[i] ? split.stored : split.fresh).push(r));
  return split;
}
