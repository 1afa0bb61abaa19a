import type { BatchData } from '../core/batch.ts';
import { quoteIdent } from '../core/identifiers.ts';
import { ORDINAL } from '../core/upsert-plan.ts';
import type { TxSql } from './db.ts';
import { toPgArrayLiteral } from './pg-array.ts';
import { statementFor, type TargetTable } from './target-table.ts';

/**
 * The rows of a batch that the table's own rules would likely refuse, found in one set-based
 * query: a CHECK constraint of the table that is false on the row's incoming values (cast to the
 * column types), or NULL in a NOT NULL column. Only constraints whose columns the batch carries
 * are evaluated (the others depend on stored values); the expressions are the catalog's own
 * (`pg_get_expr`), and the values travel as bound arrays.
 *
 * A suspect is not a verdict: merge rules, triggers and stored values can make a suspect row
 * apply and an unsuspected one fail, so replay applies each suspect on its own and the rows
 * between them as sets (bisected if they still fail), in arrival order. The screen only saves the
 * bisection's work: a batch with 30 CHECK violations among 10,000 rows took about 25 times an
 * ordinary apply bisected, because every halving re-ran the upsert on the rows around them.
 *
 * Best effort: a screen the database refuses (a domain's own CHECK while casting, an expression
 * that raises) finds nothing, inside a savepoint, and replay bisects as before.
 */
export async function suspectRows(tx: TxSql, target: TargetTable, batch: BatchData, rows: readonly number[]): Promise<Set<number>> {
  if (rows.length === 0) return new Set();
  const { plan } = statementFor(target, batch.columns);
  const byName = new Map(target.catalog.columns.map((c) => [c.name, c]));
  const carried = new Map(plan.columns.map((c) => [c.name, c]));
  const checks = await tx<{ expression: string; columns: string[] }[]>`
    SELECT pg_get_expr(c.conbin, c.conrelid) AS expression,
           ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)) AS columns
    FROM pg_constraint c
    WHERE c.conrelid = ${target.catalog.quoted}::regclass AND c.contype = 'c'`;
  const evaluable = checks.filter((c) => c.columns.every((name) => carried.has(name)));
  const notNull = plan.columns.filter((c) => byName.get(c.name)?.notNull && !target.config.conflictKey.includes(c.name));
  const conditions = [...evaluable.map((c) => `(${c.expression}) IS FALSE`), ...notNull.map((c) => `${quoteIdent(c.name)} IS NULL`)];
  if (conditions.length === 0) return new Set();
  // The incoming values under the table's column names, so the catalog's expressions read them
  // as they read a row; the row index under a name no table column may have (upsert-plan.ts).
  const names = new Set([...evaluable.flatMap((c) => c.columns), ...notNull.map((c) => c.name)]);
  const used = plan.columns.filter((c) => names.has(c.name));
  const params = [...used.map((c) => toPgArrayLiteral(rows.map((r) => batch.values[c.input]![r]!))), toPgArrayLiteral(rows as number[])];
  const inputs = used.map((_, i) => `v${i}`);
  const text = `
    SELECT t.${quoteIdent(ORDINAL)}::int AS i
    FROM (SELECT u.i AS ${quoteIdent(ORDINAL)}, ${used.map((c, i) => `u.${inputs[i]}::${byName.get(c.name)!.type} AS ${quoteIdent(c.name)}`).join(', ')}
          FROM unnest(${used.map((_, i) => `$${i + 1}::text[]`).join(', ')}${used.length > 0 ? ', ' : ''}$${used.length + 1}::int4[]) AS u(${[...inputs, 'i'].join(', ')})) AS t
    WHERE ${conditions.join(' OR ')}`;
  try {
    const found = await tx.savepoint((sp) => sp.unsafe<{ i: number }[]>(text, params));
    return new Set(found.map((f) => f.i));
  } catch {
    return new Set();
  }
}
