import { didYouMean } from './config.ts';

/** A table name (a `--table`) that names none of the known tables, or more than one. */
export class TableNameError extends Error {
  override name = 'TableNameError';
  readonly given: string;
  readonly known: readonly string[];
  constructor(message: string, given: string, known: readonly string[]) {
    super(message);
    this.given = given;
    this.known = known;
  }
}

/**
 * `schema.table` as PostgreSQL reads the name (unquoted characters folded to lower case, quoted
 * ones kept; no schema is `public`), for comparing; null for a name that is not one.
 */
function folded(name: string): string | null {
  const parts = [''];
  let quoted = false;
  for (let i = 0; i < name.length; i++) {
    const ch = name[i]!;
    if (ch === '"' && quoted && name[i + 1] === '"') {
      parts.push(`${parts.pop()}"`);
      i++;
    } else if (ch === '"') quoted = !quoted;
    else if (ch === '.' && !quoted) parts.push('');
    else parts.push(`${parts.pop()}${quoted ? ch : ch.toLowerCase()}`);
  }
  if (quoted || parts.length > 2 || parts.some((p) => p === '')) return null;
  return parts.length === 2 ? `${parts[0]}.${parts[1]}` : `public.${parts[0]}`;
}

const bareName = (qualified: string) => qualified.slice(qualified.indexOf('.') + 1);

/**
 * The known table (as the config or the ledger spells it) that `given` names: the same text;
 * else the same table once both are read as PostgreSQL reads a name (`customers` is
 * `public.customers`, unquoted names in any case); else, for a name without a schema, the one
 * known table of that name in any schema. Throws TableNameError naming the tables, with a guess
 * for a typo, when none or several match.
 *
 * @example matchTableName('customers', ['public.customers', 'sales.orders']) // 'public.customers'
 * @example matchTableName('orders', ['public.customers', 'sales.orders'])    // 'sales.orders'
 */
export function matchTableName(given: string, known: readonly string[], what = 'in the config'): string {
  if (known.includes(given)) return given;
  const target = folded(given);
  const same = target === null ? [] : known.filter((k) => folded(k) === target);
  if (same.length === 1) return same[0]!;
  const bare = target !== null && !given.includes('.') ? known.filter((k) => folded(k) !== null && bareName(folded(k)!) === bareName(target)) : [];
  if (same.length === 0 && bare.length === 1) return bare[0]!;
  const candidates = same.length > 1 ? same : bare;
  if (candidates.length > 1) {
    throw new TableNameError(`table "${given}" is ambiguous: ${candidates.join(', ')} are ${what}; give the schema`, given, known);
  }
  const guess = didYouMean(given, [...known, ...known.map((k) => bareName(folded(k) ?? k))]);
  const guessed = guess === undefined ? undefined : (known.find((k) => k === guess) ?? known.find((k) => bareName(folded(k) ?? k) === guess));
  const list = known.length ? `tables ${what}: ${known.join(', ')}` : `no table is ${what}`;
  throw new TableNameError(`table "${given}" is not ${what}${guessed ? ` (did you mean "${guessed}"?)` : ''}; ${list}`, given, known);
}
