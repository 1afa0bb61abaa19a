import { z } from 'zod';
import type { CatalogColumn } from './catalog-types.ts';

/**
 * Per-column merge rules (docs/rules.md, "Merge rules"): how an incoming value meets the stored
 * one. Columns without a rule are `replace`, as every column was before rules existed.
 *
 * - `replace`: the winning row's value (DESIGN.md rule 1).
 * - `keep`: the stored value stays once it is not NULL; a NULL stored value takes the first
 *   non-NULL value that arrives (in winner order).
 * - `ignoreNull`: as `replace`, but a NULL arriving leaves the stored value alone.
 * - `add`: stored + incoming, the incoming value a delta; every applied row's delta counts once.
 * - `max` / `min`: the high-water / low-water mark of the stored and the incoming values.
 *
 * `replace`, `keep` and `ignoreNull` are positional: they follow the winner rule, so a row older
 * than the stored one gives them nothing. `add`, `max` and `min` accumulate: the order rows are
 * applied in does not change their result, so every applied row counts, whatever its version.
 */
export const MergeRule = {
  replace: 'replace',
  keep: 'keep',
  ignoreNull: 'ignoreNull',
  add: 'add',
  max: 'max',
  min: 'min',
} as const;
export type MergeRule = (typeof MergeRule)[keyof typeof MergeRule];

const RULES = Object.values(MergeRule) as MergeRule[];

/** Rules whose result does not depend on the order rows are applied in. */
export const ACCUMULATING: ReadonlySet<MergeRule> = new Set<MergeRule>([MergeRule.add, MergeRule.max, MergeRule.min]);

/** Base types `add` accepts: PostgreSQL's `+` on them is exact (numeric, integers), IEEE (floats) or calendar arithmetic (interval). */
export const ADDABLE_TYPES: ReadonlySet<string> = new Set(['int2', 'int4', 'int8', 'numeric', 'float4', 'float8', 'interval']);

/** Base types without a btree ordering: `max`/`min` (greatest/least) cannot compare them. */
const UNORDERED_TYPES = new Set(['json', '_json', 'xml', '_xml', 'point', 'line', 'lseg', 'path', 'polygon', 'box', 'circle']);

/**
 * The `merge` field of a table: column → rule. The rule is read as a string so that a mistyped
 * one gets a guess (`mergeConfigProblems`), as a mistyped field does.
 */
export const mergeSchema = z.record(z.string().min(1, 'must not be empty').max(63, 'is longer than PostgreSQL allows (63 bytes)'), z.string());

/** The table config fields the merge checks read (config.ts's TableConfig has them). */
export interface MergeTableFields {
  table: string;
  mode: string;
  conflictKey: readonly string[];
  version: string;
  delete?: { column: string } | undefined;
  arrivalColumn: string;
  merge?: Record<string, string> | undefined;
}

/** The rule of a column: its configured one, else `replace`. */
export function ruleOf(table: Pick<MergeTableFields, 'merge'>, column: string): MergeRule {
  return (table.merge?.[column] as MergeRule | undefined) ?? MergeRule.replace;
}

/** True when the table has a rule other than `replace` for some column. */
export function hasMergeRules(table: Pick<MergeTableFields, 'merge'>): boolean {
  return Object.values(table.merge ?? {}).some((rule) => rule !== MergeRule.replace);
}

/**
 * Problems of a table's `merge` map that the config alone shows, as `merge.<column>: …` (the
 * caller prefixes the table). `didYouMean` guesses a mistyped rule.
 */
export function mergeConfigProblems(table: MergeTableFields, didYouMean: (name: string, known: readonly string[]) => string | undefined): string[] {
  const problems: string[] = [];
  const entries = Object.entries(table.merge ?? {});
  for (const [column, rule] of entries) {
    const at = `merge.${column}`;
    if (!RULES.includes(rule as MergeRule)) {
      const guess = didYouMean(rule, RULES);
      problems.push(`${at}: unknown rule "${rule}" (${guess ? `did you mean "${guess}"?` : `rules: ${RULES.join(', ')}`})`);
      continue;
    }
    if (rule === MergeRule.replace) continue;
    if (table.conflictKey.includes(column)) problems.push(`${at}: "${column}" is part of the conflict key, which an upsert never changes; only other columns take a rule`);
    else if (column === table.version) problems.push(`${at}: "${column}" is the version column, which decides the winner; it is always replaced by the winning row's`);
    else if (column === table.delete?.column) problems.push(`${at}: "${column}" is the delete rule's column, which marks deletes and is not merged`);
    else if (column === table.arrivalColumn) problems.push(`${at}: "${column}" is the arrival column, which Landfall writes itself`);
  }
  const ruled = entries.filter(([, rule]) => rule !== MergeRule.replace && RULES.includes(rule as MergeRule));
  if (ruled.length > 0 && table.mode === 'insert') {
    problems.push(`merge: rules need mode "upsert": mode "insert" never changes a stored row (the first row of a key stays whole, which is "keep" for every column)`);
  }
  // Snapshot mode (a file is the whole content of its scope) sends the same rows again and again:
  // a delta there would be added again with every snapshot.
  const adds = ruled.filter(([, rule]) => rule === MergeRule.add).map(([column]) => `"${column}"`);
  if (adds.length > 0 && table.mode === 'snapshot') {
    problems.push(`merge: "add" (on ${adds.join(', ')}) cannot be used with mode "snapshot": a snapshot holds the whole state and is sent again, so its deltas would be counted again; send deltas to an upsert table`);
  }
  return problems;
}

/**
 * Problems of a table's `merge` map against its catalog (checked at start-up: the consumer's
 * table preparation and the preflight of `landfall run`/`dev`): the column exists and can be
 * written, `add` is on a number or interval column, `max`/`min` on a column whose type is ordered.
 */
export function mergeCatalogProblems(table: Pick<MergeTableFields, 'merge'>, columns: readonly CatalogColumn[], didYouMean: (name: string, known: readonly string[]) => string | undefined): string[] {
  const byName = new Map(columns.map((c) => [c.name, c]));
  const problems: string[] = [];
  for (const [name, rule] of Object.entries(table.merge ?? {})) {
    const column = byName.get(name);
    if (!column) {
      const guess = didYouMean(name, [...byName.keys()]);
      problems.push(`merge: column "${name}" does not exist${guess ? ` (did you mean "${guess}"?)` : ''}`);
      continue;
    }
    if (rule === MergeRule.replace) continue;
    if (column.generated) problems.push(`merge: column "${name}" is generated and cannot be written`);
    else if (rule === MergeRule.add && !ADDABLE_TYPES.has(column.baseType)) {
      problems.push(`merge: "add" on column "${name}" of type ${column.type}: "add" takes numeric, integer, float and interval columns only`);
    } else if ((rule === MergeRule.max || rule === MergeRule.min) && UNORDERED_TYPES.has(column.baseType)) {
      problems.push(`merge: "${rule}" on column "${name}" of type ${column.type}, which has no ordering`);
    }
  }
  return problems;
}
