/**
 * Which row of a duplicate group survives. `newest`/`oldest` order by a column (the larger or
 * smaller value wins; NULL always loses); `any` keeps one of identical copies and orders by
 * the tie-break alone. Ties are always broken by the primary key, else by `ctid`.
 */
export interface KeepRule {
  kind: 'newest' | 'oldest' | 'any';
  /** The column compared; null for `any`, and for `newest`/`oldest` until resolved. */
  column: string | null;
}

export class KeepRuleError extends Error {
  override name = 'KeepRuleError';
}

/**
 * Parses `--keep`: `newest`, `oldest`, `any`, `version:<col>` (= `newest:<col>`),
 * `newest:<col>`, `oldest:<col>`.
 */
export function parseKeepRule(input: string): KeepRule {
  const colon = input.indexOf(':');
  const head = colon < 0 ? input : input.slice(0, colon);
  const column = colon < 0 ? null : input.slice(colon + 1);
  if (column !== null && column.length === 0) throw new KeepRuleError(`--keep ${input}: the column name is empty`);
  switch (head) {
    case 'version':
      if (column === null) throw new KeepRuleError('--keep version needs a column: version:<col>');
      return { kind: 'newest', column };
    case 'newest':
    case 'oldest':
      return { kind: head, column };
    case 'any':
      if (column !== null) throw new KeepRuleError('--keep any takes no column');
      return { kind: 'any', column: null };
    default:
      throw new KeepRuleError(`--keep ${input}: expected newest, oldest, any, version:<col>, newest:<col> or oldest:<col>`);
  }
}

/**
 * Fills in the column of a bare `newest`/`oldest`: the configured version column, else the
 * table's arrival column. Throws when there is neither, naming the ways out.
 */
export function resolveKeepRule(
  rule: KeepRule,
  sources: { versionColumn: string | null; arrivalColumn: string | null },
): KeepRule {
  if (rule.kind === 'any' || rule.column !== null) return rule;
  const column = sources.versionColumn ?? sources.arrivalColumn;
  if (column === null) {
    throw new KeepRuleError(
      `--keep ${rule.kind} needs a column to compare: no version column is configured for this table and it has no arrival column; ` +
        `pass --keep ${rule.kind}:<col>, or --keep any when the duplicates are identical copies`,
    );
  }
  return { kind: rule.kind, column };
}

/** The canonical text of a resolved rule, stored with a run so a resume uses the same rule. */
export function formatKeepRule(rule: KeepRule): string {
  return rule.column === null ? rule.kind : `${rule.kind}:${rule.column}`;
}
