import { quoteIdent as q } from '../core/identifiers.ts';
import { TOMB_ARRIVAL, TOMB_DELETED_AT, TOMB_VERSION, TOMBSTONE_PURGE_LIMIT } from '../core/tombstone-names.ts';
import { ACCUMULATING, type MergeRule } from '../core/merge-rules.ts';
import { accumulates, mergesColumns, ORDINAL, type PlanColumn, ROW_ARRIVAL, ROW_NUMBER, TOMBSTONE, type UpsertPlan } from '../core/upsert-plan.ts';
import { reviveAssignments, supersededBy, withRevival } from './compile-snapshot-guard.ts';

/**
 * The compiled statement of a plan. Its text depends only on the plan, never on the row count:
 * every column travels as one array parameter, so a 100,000-row batch is the same few KB of
 * SQL as a 1-row batch (RDS Proxy does not pin, no 65,535-parameter limit).
 */
export interface CompiledUpsert {
  /** The statement adds its counts to the batch's ledger row and returns the row's totals. */
  text: string;
  /** The parameters after the value arrays, in order (only those the text uses). */
  extraParams: ExtraParam[];
  /**
   * The same statement without the reduction's sort (`red` is the bound rows as they are; in the
   * merge form, every key has one row), for a batch whose keys are known to be distinct
   * (apply-batch.ts, `keysProvablyDistinct`); same parameters. Only for plans where a key repeated
   * after all makes the statement fail with 21000 instead of counting wrong (mode `upsert`,
   * `DO UPDATE`, no delete rule, not a snapshot table, no NULLS NOT DISTINCT key); null for the others.
   */
  unsorted: string | null;
}

export type ExtraParam = 'rowNumbers' | 'arrival' | 'tombstoneEquals' | 'tombstoneRetentionDays' | 'batchId';

/** `cur."v"` etc. */
const col = (alias: string, name: string) => `${alias}.${q(name)}`;

/**
 * The winner rule as a predicate over a stored row `cur` and an incoming row `inc`: true when the
 * incoming row may replace the stored one (DESIGN.md rule 1). null means "always".
 */
export function winnerGuard(plan: Pick<UpsertPlan, 'arrivalColumn' | 'version'>, cur: string, inc: string): string | null {
  const v = plan.version?.name;
  const a = plan.arrivalColumn;
  return beatsStored(plan, { version: v ? col(cur, v) : null, arrival: a ? col(cur, a) : null }, { version: v ? col(inc, v) : null, arrival: a ? col(inc, a) : null });
}

/** The winner rule over SQL expressions: true when `inc` (version, arrival) may replace `cur`. null means "always". */
function beatsStored(plan: Pick<UpsertPlan, 'arrivalColumn' | 'version'>, cur: { version: string | null; arrival: string | null }, inc: { version: string | null; arrival: string | null }): string | null {
  const tie = plan.arrivalColumn ? `(${cur.arrival} IS NULL OR ${cur.arrival} COLLATE "C" <= ${inc.arrival} COLLATE "C")` : null;
  if (!plan.version) return tie;
  const newer = `${inc.version} > ${cur.version} OR (${cur.version} IS NULL AND ${inc.version} IS NOT NULL)`;
  const same = `${inc.version} IS NOT DISTINCT FROM ${cur.version}`;
  return `(${newer} OR (${same}${tie ? ` AND ${tie}` : ''}))`;
}

/**
 * A column as compared: json as its jsonb text when it is valid jsonb (key order, spacing and
 * repeated keys are not a change; a json value jsonb cannot hold, `\u0000`, as its text), xml
 * as its serialisation (attribute quotes, `<a/>` and `<a></a>`, whitespace between elements;
 * XMLSERIALIZE … INDENT, PostgreSQL 16+), other types without `=` as text.
 */
function compared(expr: string, c: UpsertPlan['compareColumns'][number]): string {
  if (c.canonical === 'json') return `CASE WHEN pg_input_is_valid(${expr}::text, 'jsonb') THEN ${expr}::text::jsonb::text ELSE ${expr}::text END`;
  if (c.canonical === 'xml') return `xmlserialize(CONTENT ${expr} AS text INDENT)`;
  return c.asText ? `${expr}::text` : expr;
}

/** `(cur.a, cur.b) IS DISTINCT FROM (inc.a, inc.b)`: the row would change. */
export function changedPredicate(plan: UpsertPlan, cur: string, inc: string, incoming?: (column: string) => string): string | null {
  if (plan.compareColumns.length === 0) return null;
  const curSide = plan.compareColumns.map((c) => compared(col(cur, c.name), c));
  const incSide = plan.compareColumns.map((c) => compared(incoming ? `(${incoming(c.name)})` : col(inc, c.name), c));
  return `(${curSide.join(', ')}) IS DISTINCT FROM (${incSide.join(', ')})`;
}

/**
 * True when an incoming row (its version and arrival as SQL expressions) beats the remembered
 * tombstone `t`: a greater version, or the same version and a later arrival (the tombstone
 * always knows its arrival, so ties are decided by it even without an arrival column).
 */
export function beatsTombstone(plan: UpsertPlan, version: string | null, arrival: string, t: string): string {
  const later = `${arrival} COLLATE "C" > ${col(t, TOMB_ARRIVAL)} COLLATE "C"`;
  if (!plan.version || version === null) return `(${later})`;
  const tv = col(t, TOMB_VERSION);
  return `(${version} > ${tv} OR (${tv} IS NULL AND ${version} IS NOT NULL) OR (${version} IS NOT DISTINCT FROM ${tv} AND ${later}))`;
}

export function keyJoin(plan: Pick<UpsertPlan, 'key' | 'nullsEqual' | 'keyCasts'>, cur: string, inc: string): string {
  const op = plan.nullsEqual ? 'IS NOT DISTINCT FROM' : '=';
  const as = (k: string) => (plan.keyCasts?.[k] ? `::${plan.keyCasts[k]}` : '');
  return plan.key.map((k) => `${col(cur, k)}${as(k)} ${op} ${col(inc, k)}${as(k)}`).join(' AND ');
}

interface RememberedDeletes {
  /** Extra condition on the rows the INSERT writes: no live tombstone beats them. */
  notBeaten: string;
  /** CTEs that record tombstones, clear the ones a newer upsert beats, and purge expired ones. */
  ctes: string;
  /** A red row an upsert a live tombstone beats is stale. */
  staleByTombstone: string;
}

/** Where a statement remembers deletes from (rule 6): the rows of `red` that record a tombstone, with its version and arrival. */
interface TombstoneSource {
  where: string;
  version: string | null;
  arrival: string;
}

/**
 * The statement's part of DESIGN.md rule 6, against the plan's tombstone table `t` (see
 * tombstones.ts): a tombstone that wins over the stored row (or finds none) is remembered with
 * its version and arrival; an upsert a live (unexpired) tombstone beats is stale and written
 * nowhere; an upsert that beats it clears it (unless `clear` is false: see the merge form).
 * Expired ones are purged, a bounded number per statement, skipping rows another transaction
 * holds and the keys this statement touches (no row is modified twice by one statement).
 */
function rememberedDeletes(
  plan: UpsertPlan,
  params: Record<ExtraParam, number>,
  isTombstone: string,
  isUpsert: string,
  options: { put?: TombstoneSource; clear?: boolean } = {},
): RememberedDeletes {
  const tomb = plan.tombstone!;
  const rel = tomb.remembered;
  const arrival = plan.arrivalColumn ?? ROW_ARRIVAL;
  const version = plan.version ? col('red', plan.version.name) : null;
  const live = (t: string) => `${col(t, TOMB_DELETED_AT)} >= now() - $${params.tombstoneRetentionDays}::float8 * interval '1 day'`;
  const beatenBy = (t: string) => `${live(t)} AND NOT coalesce(${beatsTombstone(plan, version, col('red', arrival), t)}, false)`;
  const notBeaten = `NOT EXISTS (SELECT 1 FROM ${rel} AS t WHERE ${keyJoin(plan, 't', 'red')} AND ${beatenBy('t')})`;
  const put = options.put ?? { where: isTombstone, version, arrival: col('red', arrival) };
  const storedRow = { version: plan.version ? col('cur', plan.version.name) : null, arrival: plan.arrivalColumn ? col('cur', plan.arrivalColumn) : null };
  const deleteGuard = beatsStored(plan, storedRow, { version: put.version, arrival: put.arrival });
  const notOutdated = deleteGuard
    ? ` AND NOT EXISTS (SELECT 1 FROM ${plan.target} AS cur WHERE ${keyJoin(plan, 'cur', 'red')} AND NOT coalesce(${deleteGuard}, false))`
    : '';
  const keys = plan.key.map(q);
  const stored = [...keys, ...(plan.version ? [q(TOMB_VERSION)] : []), q(TOMB_ARRIVAL), q(TOMB_DELETED_AT)];
  const values = [...keys.map((k) => `red.${k}`), ...(put.version ? [put.version] : []), put.arrival, 'now()'];
  const excludedBeats = beatsTombstone(plan, plan.version ? col('EXCLUDED', TOMB_VERSION) : null, col('EXCLUDED', TOMB_ARRIVAL), 't');
  const clear =
    options.clear === false
      ? ''
      : `, tomb_clear AS (
  DELETE FROM ${rel} AS t USING red
  WHERE ${isUpsert} AND ${keyJoin(plan, 't', 'red')} AND (NOT (${live('t')}) OR coalesce(${beatsTombstone(plan, version, col('red', arrival), 't')}, false))
)`;
  const ctes = `, tomb_put AS (
  INSERT INTO ${rel} AS t (${stored.join(', ')})
  SELECT ${values.join(', ')} FROM red WHERE ${put.where}${notOutdated}
  ON CONFLICT (${keys.join(', ')}) DO UPDATE SET ${stored.slice(keys.length).map((c) => `${c} = EXCLUDED.${c}`).join(', ')}
    WHERE NOT (${live('t')}) OR coalesce(${excludedBeats}, false)
)${clear}, tomb_purge AS (
  DELETE FROM ${rel} AS t
  WHERE t.ctid = ANY (ARRAY(
    SELECT x.ctid FROM ${rel} AS x
    WHERE NOT (${live('x')}) AND NOT EXISTS (SELECT 1 FROM red WHERE ${keyJoin(plan, 'x', 'red')})
    ORDER BY x.${q(TOMB_DELETED_AT)} LIMIT ${TOMBSTONE_PURGE_LIMIT} FOR UPDATE SKIP LOCKED))
)`;
  const staleByTombstone = `(${isUpsert} AND EXISTS (SELECT 1 FROM ${rel} AS t WHERE ${keyJoin(plan, 't', 'red')} AND ${beatenBy('t')}))`;
  return { notBeaten, ctes, staleByTombstone };
}

/** A row's arrival as the upsert stores it: `<file arrival>!<row number, 12 digits>` (lpad pads left, truncates right). */
export const arrivalValueOf = (arrival: string, rowNumber: number): string => `${arrival}!${String(rowNumber).padStart(12, '0').slice(0, 12)}`;

/** Names the merge form uses inside the statement (upsert-plan.ts refuses table columns named `landfall$…`). */
const M = {
  rows: 'landfall$n',
  rank: 'landfall$rank',
  found: 'landfall$found',
  newer: 'landfall$new',
  live: 'landfall$live',
  deleteRank: 'landfall$dr',
  oldestNewer: 'landfall$jr',
  fresh: 'landfall$fresh',
  contributes: 'landfall$contrib',
  candidate: 'landfall$cand',
  reset: 'landfall$reset',
  remember: 'landfall$remember',
  deleteVersion: 'landfall$dv',
  deleteArrival: 'landfall$da',
  write: 'landfall$write',
  absent: (input: number) => `landfall$absent${input}`,
  notGiven: (input: number) => `landfall$nc${input}`,
  supplier: (input: number) => `landfall$sup${input}`,
  stored: (input: number) => `landfall$stored${input}`,
} as const;

interface MergeForm {
  /** The CTEs after `src` up to `red` (one row per key, each column's value chosen by its rule). */
  reduction: string;
  /**
   * The same for rows whose keys are all distinct: every key has one row, ranked first, without
   * the windows' sort. null where a key repeated after all would not raise 21000: ON CONFLICT DO
   * NOTHING, or a CHECK on an accumulating column (every key's rows are then grouped, `readAll`).
   */
  reductionOfDistinct: string | null;
  /** The INSERT's own filter on `red` (besides the remembered deletes), or null. */
  writes: string | null;
  onConflict: string;
  /** How deletes are remembered (rule 6) in this form. */
  tombstones: { put?: TombstoneSource; clear: boolean };
}

/** `stored ⊕ incoming` for an accumulating rule; NULL is "no amount", as in SQL's sum, max and min. */
function accumulate(rule: MergeRule, stored: string, incoming: string): string {
  if (rule === 'add') return `CASE WHEN ${incoming} IS NULL THEN ${stored} WHEN ${stored} IS NULL THEN ${incoming} ELSE ${stored} + ${incoming} END`;
  return `${rule === 'max' ? 'greatest' : 'least'}(${stored}, ${incoming})`;
}

/**
 * The merge form of the statement (docs/rules.md, "Merge rules"; merge rules or absent values in
 * mode `upsert`): each column's value is chosen by its rule, as if the batch's rows of a key were
 * applied one at a time in winner order.
 *
 * - A row gives a column a value when it carries it: not absent, and for a column with a rule
 *   other than `replace` not NULL. A column no row gives a value keeps the stored value on update
 *   and takes its default on insert.
 * - A key with one row in the batch (nearly every key) passes through.
 * - A key with several rows is reduced per column: positional rules (`replace`, `keep`,
 *   `ignoreNull`) take their value from the rows that beat the stored row and any remembered
 *   delete; accumulating rules (`add`, `max`, `min`) from every row no delete beats. For these
 *   keys only, the stored row's version and arrival are read, locked (`FOR UPDATE`), so the row
 *   ON CONFLICT meets is the one the choice was made against. A delete among the rows that beats
 *   the stored row, followed by newer rows, re-creates the row from those (`reset`).
 * - PostgreSQL checks NOT NULL and CHECK constraints on the row an INSERT proposes before it finds
 *   the conflict: a column no row gives a value proposes its default, or (NOT NULL without one)
 *   the stored value; a table whose CHECK constraint reads an accumulating column reads (and
 *   locks) every key's stored row, so the proposed row holds the result, not the delta.
 * - ON CONFLICT combines each column with the stored value by its rule: positional ones under
 *   the winner guard, accumulating ones always. EXCLUDED holds only the table's columns, so the
 *   per-key flags (reset, no value given, stored row read) reach the SET as a hashed
 *   `key IN (SELECT key FROM red WHERE flag)`, built once per statement.
 */
function mergeForm(plan: UpsertPlan, params: Record<ExtraParam, number>): MergeForm {
  const keys = plan.key.map(q);
  const f = (name: string) => q(name);
  const v = plan.version?.name ?? null;
  const arr = plan.arrivalColumn ?? (plan.tombstone ? ROW_ARRIVAL : null);
  const accumulating = accumulates(plan);
  const hasDeletes = plan.tombstone !== null && plan.tombstone.input !== null;
  const absentInput = new Map(plan.absent.map((a) => [a.name, a.input]));
  const typeOf = (name: string) => plan.columns.find((c) => c.name === name)!.type;
  const nonKey = plan.columns.filter((c) => !plan.key.includes(c.name));
  const merged = nonKey.filter((c) => c.name !== v);
  const ruleOf = (name: string): MergeRule => (name === v || name === plan.arrivalColumn ? 'replace' : (plan.rules[name] ?? 'replace'));
  const isPositional = (name: string) => !ACCUMULATING.has(ruleOf(name));
  const isTomb = hasDeletes ? (alias: string) => `(${col(alias, TOMBSTONE)} IS NOT DISTINCT FROM $${params.tombstoneEquals}::text)` : () => 'false';
  const rank = f(M.rank);
  // Accumulating columns a CHECK constraint reads: every key reads its stored row.
  const checked = merged.filter((c) => !isPositional(c.name) && plan.facts[c.name]?.checked);
  const readAll = checked.length > 0;
  const guardStored = winnerGuard(plan, 'kk', 'r');
  // A key with several rows needs its stored row when a column's value may come from another
  // row than the winner (keep, ignoreNull, absent values) or a delete may sit among its rows.
  const needStored =
    readAll || (guardStored !== null && (hasDeletes || merged.some((c) => absentInput.has(c.name) || ruleOf(c.name) === 'keep' || ruleOf(c.name) === 'ignoreNull')));
  const needRemembered = plan.tombstone !== null;
  const live = (t: string) => `${col(t, TOMB_DELETED_AT)} >= now() - $${params.tombstoneRetentionDays}::float8 * interval '1 day'`;

  /** Row `alias` gives column `name` a value. */
  const gives = (alias: string, name: string) => {
    if (!isPositional(name) || ruleOf(name) !== 'replace') return `${col(alias, name)} IS NOT NULL`;
    return absentInput.has(name) ? `NOT ${col(alias, M.absent(absentInput.get(name)!))}` : 'true';
  };
  /** What the proposed row holds for a column no row gives a value: its default, else (NOT NULL) the stored value, else NULL. */
  const placeholder = (name: string, keyAlias: string): string | null => {
    const facts = plan.facts[name]!;
    if (facts.defaultExpr) return `(${facts.defaultExpr})::${typeOf(name)}`;
    if (facts.notNull) return `(SELECT x.${f(name)} FROM ${plan.target} AS x WHERE ${keyJoin(plan, 'x', keyAlias)})`;
    return null;
  };
  // A flag "no row gives a value" reaches the SET where EXCLUDED cannot say it by a NULL: the
  // placeholder is a value, or NULL is a value (replace).
  const flagged = merged.filter((c) => (ruleOf(c.name) === 'replace' ? absentInput.has(c.name) : placeholder(c.name, 'r') !== null));

  // Keys with several rows (all keys when a CHECK reads an accumulating column).
  const storedColumns = [...(v ? [col('cur', v)] : []), ...(plan.arrivalColumn ? [col('cur', plan.arrivalColumn)] : []), ...checked.map((c) => `${col('cur', c.name)} AS ${f(M.stored(c.input))}`)];
  const storedRead = needStored
    ? `
  LEFT JOIN LATERAL (SELECT ${[...storedColumns, `true AS ${f(M.found)}`].join(', ')}
    FROM ${plan.target} AS cur WHERE ${keyJoin(plan, 'cur', 'r')} FOR UPDATE) AS s ON true`
    : '';
  const rememberedRead = needRemembered
    ? `
  LEFT JOIN LATERAL (SELECT ${[...(v ? [col('x', TOMB_VERSION)] : []), col('x', TOMB_ARRIVAL)].join(', ')}
    FROM ${plan.tombstone!.remembered} AS x WHERE ${keyJoin(plan, 'x', 'r')} AND ${live('x')}) AS t ON true`
    : '';
  const newer = needStored && guardStored ? `(kk.${f(M.found)} IS NULL OR coalesce(${guardStored}, false))` : 'true';
  const notBeaten = needRemembered ? `(kk.${f(TOMB_ARRIVAL)} IS NULL OR coalesce(${beatsTombstone(plan, v ? col('r', v) : null, col('r', arr!), 'kk')}, false))` : 'true';
  const fresh = `(${f(M.deleteRank)} IS NOT NULL AND (${f(M.found)} IS NOT TRUE OR coalesce(${f(M.deleteRank)} <= ${f(M.oldestNewer)}, false)))`;
  const contributes = `(${f(M.live)} AND NOT ${isTomb('m2')} AND (NOT ${fresh} OR ${rank} < ${f(M.deleteRank)}))`;
  const candidate = `(${contributes} AND (${fresh} OR ${f(M.newer)}))`;
  const suppliers = merged
    .filter((c) => isPositional(c.name))
    .map((c) => `${ruleOf(c.name) === 'keep' ? 'max' : 'min'}(${rank}) FILTER (WHERE ${candidate} AND ${gives('m2', c.name)}) OVER w AS ${f(M.supplier(c.input))}`);
  /** In m3: the rows of a key that give column `name` its value. */
  const giving = (name: string) => `${isPositional(name) ? f(M.candidate) : f(M.contributes)} AND ${gives('m3', name)}`;
  const givenBy = (name: string) => `coalesce(bool_or(${giving(name)}), false)`;
  const reducedValue = (c: PlanColumn): string => {
    if (c.name === v) return `any_value(${f(c.name)}) FILTER (WHERE ${rank} = 1)`;
    const rule = ruleOf(c.name);
    const value = isPositional(c.name)
      ? `any_value(${f(c.name)}) FILTER (WHERE ${rank} = ${f(M.supplier(c.input))})`
      : rule === 'add'
        ? `(sum(${f(c.name)}) FILTER (WHERE ${f(M.contributes)}))::${c.type}`
        : `${rule}(${f(c.name)}) FILTER (WHERE ${f(M.contributes)})`;
    const otherwise = placeholder(c.name, 'm3');
    const chosen = otherwise ? `CASE WHEN ${givenBy(c.name)} THEN ${value} ELSE ${otherwise} END` : value;
    if (!checked.includes(c)) return chosen;
    // The result for a stored row (read and locked), so its CHECK constraints see what is written.
    const stored = `any_value(${f(M.stored(c.input))})`;
    return `CASE WHEN coalesce(bool_or(${f(M.found)}), false) THEN ${accumulate(rule, stored, value)} ELSE ${chosen} END`;
  };
  const singleValue = (c: PlanColumn): string => {
    const given = gives('r', c.name);
    const otherwise = c.name === v || given === 'true' ? null : placeholder(c.name, 'r');
    return otherwise ? `CASE WHEN ${given} THEN ${col('r', c.name)} ELSE ${otherwise} END` : col('r', c.name);
  };
  // red's columns, as the single-row keys and the reduced keys make them (same order in both).
  const out: { name: string; one: string; several: string }[] = [
    ...plan.key.map((k) => ({ name: k, one: col('r', k), several: f(k) })),
    ...nonKey.map((c) => ({ name: c.name, one: singleValue(c), several: reducedValue(c) })),
    ...(plan.tombstone ? [{ name: TOMBSTONE, one: col('r', TOMBSTONE), several: `any_value(${f(TOMBSTONE)}) FILTER (WHERE ${rank} = 1)` }] : []),
    ...(arr ? [{ name: arr, one: col('r', arr), several: `any_value(${f(arr)}) FILTER (WHERE ${rank} = 1)` }] : []),
    ...flagged.map((c) => ({ name: M.notGiven(c.input), one: `NOT (${gives('r', c.name)})`, several: `NOT ${givenBy(c.name)}` })),
    ...(readAll ? [{ name: M.found, one: 'false', several: `coalesce(bool_or(${f(M.found)}), false)` }] : []),
    ...(hasDeletes
      ? [
          { name: M.reset, one: 'false', several: `coalesce(bool_or(${f(M.fresh)} AND ${f(M.deleteRank)} > 1 AND ${f(M.found)}), false)` },
          { name: M.remember, one: isTomb('r'), several: `coalesce(bool_or(${f(M.fresh)}${accumulating ? '' : ` AND ${f(M.deleteRank)} = 1`}), false)` },
          ...(v ? [{ name: M.deleteVersion, one: col('r', v), several: `any_value(${f(v)}) FILTER (WHERE ${rank} = ${f(M.deleteRank)})` }] : []),
          { name: M.deleteArrival, one: col('r', arr!), several: `any_value(${f(arr!)}) FILTER (WHERE ${rank} = ${f(M.deleteRank)})` },
          {
            name: M.write,
            one: `NOT ${isTomb('r')}`,
            several: `NOT coalesce(any_value(${isTomb('m3')}) FILTER (WHERE ${rank} = 1), false)${accumulating ? ` OR (NOT coalesce(bool_or(${f(M.fresh)}), false) AND coalesce(bool_or(${f(M.contributes)}), false))` : ''}`,
          },
        ]
      : []),
  ];
  const winnerOrder = [...(v ? [`${f(v)} DESC NULLS LAST`] : []), `${f(ORDINAL)} DESC`].join(', ');
  const single = readAll
    ? ''
    : `
  SELECT ${out.map((o) => `${o.one} AS ${f(o.name)}`).join(', ')}
  FROM ranked AS r WHERE r.${f(M.rows)} = 1
  UNION ALL`;
  const ranking = `
  SELECT src.*, count(*) OVER (PARTITION BY ${keys.join(', ')}) AS ${f(M.rows)},
         row_number() OVER (PARTITION BY ${keys.join(', ')} ORDER BY ${winnerOrder}) AS ${rank}
  FROM src`;
  const reduction = `, ranked AS (${ranking}
), kk AS (
  SELECT ${[...keys.map((k) => `r.${k}`), ...(needStored ? ['s.*'] : []), ...(needRemembered ? ['t.*'] : [])].join(', ')}
  FROM ranked AS r${storedRead}${rememberedRead}
  WHERE ${readAll ? '' : `r.${f(M.rows)} > 1 AND `}r.${rank} = 1
), m1 AS (
  SELECT ${['r.*', `${needStored ? `kk.${f(M.found)}` : 'true'} AS ${f(M.found)}`, ...checked.map((c) => `kk.${f(M.stored(c.input))}`), `${newer} AS ${f(M.newer)}`, `${notBeaten} AS ${f(M.live)}`].join(', ')}
  FROM ranked AS r JOIN kk ON ${keyJoin(plan, 'kk', 'r')}
), m2 AS (
  SELECT m1.*, min(${rank}) FILTER (WHERE ${isTomb('m1')} AND ${f(M.live)}) OVER w AS ${f(M.deleteRank)},
         max(${rank}) FILTER (WHERE ${f(M.newer)}) OVER w AS ${f(M.oldestNewer)}
  FROM m1 WINDOW w AS (PARTITION BY ${keys.join(', ')})
), m3 AS (
  SELECT m2.*, ${[`${fresh} AS ${f(M.fresh)}`, `${contributes} AS ${f(M.contributes)}`, `${candidate} AS ${f(M.candidate)}`, ...suppliers].join(',\n         ')}
  FROM m2 WINDOW w AS (PARTITION BY ${keys.join(', ')})
), red AS (${single}
  SELECT ${out.map((o) => `${o.several} AS ${f(o.name)}`).join(', ')}
  FROM m3 GROUP BY ${keys.join(', ')}
)`;

  // ON CONFLICT: each column combined with the stored one by its rule.
  const guard = winnerGuard(plan, 'cur', 'EXCLUDED');
  const keyCast = (k: string) => (plan.keyCasts?.[k] ? `::${plan.keyCasts[k]}` : '');
  const keyIn = (flag: string) =>
    plan.nullsEqual
      ? `EXISTS (SELECT 1 FROM red WHERE red.${f(flag)} AND ${keyJoin(plan, 'red', 'EXCLUDED')})`
      : `(${plan.key.map((k) => `${col('EXCLUDED', k)}${keyCast(k)}`).join(', ')}) IN (SELECT ${plan.key.map((k) => `${col('red', k)}${keyCast(k)}`).join(', ')} FROM red WHERE red.${f(flag)})`;
  const combined = new Map<string, string>();
  for (const name of plan.updateColumns) {
    const stored = col('cur', name);
    const incoming = col('EXCLUDED', name);
    const rule = ruleOf(name);
    let value: string;
    if (isPositional(name)) {
      value = rule === 'keep' ? `coalesce(${stored}, ${incoming})` : rule === 'ignoreNull' ? `coalesce(${incoming}, ${stored})` : incoming;
      if (accumulating && guard) value = `CASE WHEN ${guard} THEN ${value} ELSE ${stored} END`;
    } else {
      value = accumulate(rule, stored, incoming);
    }
    const column = merged.find((c) => c.name === name);
    if (column && flagged.includes(column)) value = `CASE WHEN ${keyIn(M.notGiven(column.input))} THEN ${stored} ELSE ${value} END`;
    // The stored row was read and locked: EXCLUDED holds the result.
    if (column && checked.includes(column)) value = `CASE WHEN ${keyIn(M.found)} THEN ${incoming} ELSE ${value} END`;
    if (hasDeletes) value = `CASE WHEN ${keyIn(M.reset)} THEN ${incoming} ELSE ${value} END`;
    combined.set(name, value);
  }
  const changed = withRevival(plan, changedPredicate(plan, 'cur', 'EXCLUDED', (name) => combined.get(name)!), 'cur');
  const conditions = (accumulating ? [changed] : [guard, changed]).filter((x): x is string => x !== null);
  const onConflict =
    changed === null
      ? `ON CONFLICT (${keys.join(', ')}) DO NOTHING`
      : `ON CONFLICT (${keys.join(', ')}) DO UPDATE SET ${[...[...combined].map(([name, value]) => `${q(name)} = ${value}`), ...reviveAssignments(plan)].join(', ')}` +
        (conditions.length ? ` WHERE ${conditions.join(' AND ')}` : '');
  return {
    reduction,
    reductionOfDistinct: changed === null || readAll ? null : reduction.replace(ranking, `\n  SELECT src.*, 1::int8 AS ${f(M.rows)}, 1::int8 AS ${rank}\n  FROM src`),
    writes: hasDeletes ? `red.${f(M.write)}` : null,
    onConflict,
    tombstones: {
      ...(hasDeletes ? { put: { where: `red.${f(M.remember)}`, version: v ? `red.${f(M.deleteVersion)}` : null, arrival: `red.${f(M.deleteArrival)}` } } : {}),
      clear: !accumulating,
    },
  };
}

export function compileUpsert(plan: UpsertPlan): CompiledUpsert {
  const n = plan.inputCount;
  const extraParams: ExtraParam[] = ['rowNumbers', 'batchId'];
  if (plan.arrivalColumn || plan.tombstone) extraParams.push('arrival');
  if (plan.tombstone) extraParams.push('tombstoneEquals', 'tombstoneRetentionDays');
  const params = Object.fromEntries(extraParams.map((name, i) => [name, n + 1 + i])) as Record<ExtraParam, number>;
  const merge = mergesColumns(plan);
  const inputs = Array.from({ length: n }, (_, i) => `i${i}`);
  // Each array is parsed straight into its column's type (one parse, no text intermediate);
  // inputs that are not table columns (the tombstone) stay text.
  const inputTypes = inputs.map(() => 'text');
  for (const c of plan.columns) inputTypes[c.input] = c.param;
  // Absent values (BatchData.absent): one flag array per column, after the extra parameters.
  const absentArrays = plan.absent.map((a, k) => ({ ...a, param: n + extraParams.length + 1 + k, alias: `a${a.input}` }));
  const rowArrival = `$${params.arrival}::text || '!' || lpad(u.${q(ROW_NUMBER)}::text, 12, '0')`;
  const castOf = (c: PlanColumn) => `u.i${c.input}${c.cast ? `::${c.cast}` : ''}${c.collate ? ` COLLATE ${c.collate}` : ''}`;
  // Insert mode writes an absent value's default here; the merge form keeps the value and decides later.
  const valueOf = (c: PlanColumn) => {
    const absent = absentArrays.find((a) => a.name === c.name);
    return !merge && absent?.defaultExpr ? `CASE WHEN u.${absent.alias} THEN (${absent.defaultExpr})::${c.type} ELSE ${castOf(c)} END` : castOf(c);
  };
  const selectList = [
    `u.${q(ORDINAL)}`,
    `u.${q(ROW_NUMBER)}`,
    ...plan.columns.map((c) => `${valueOf(c)} AS ${q(c.name)}`),
    // A batch without the delete column has no tombstone row (NULL never equals the rule's
    // value) but still meets the remembered deletes.
    ...(plan.tombstone ? [`${plan.tombstone.input === null ? 'NULL::text' : `u.i${plan.tombstone.input}`} AS ${q(TOMBSTONE)}`] : []),
    // arrivalValueOf computes the same value for COPY (insertIfFresh); keep the two equal.
    ...(plan.arrivalColumn ? [`${rowArrival} AS ${q(plan.arrivalColumn)}`] : plan.tombstone ? [`${rowArrival} AS ${q(ROW_ARRIVAL)}`] : []),
    ...absentArrays.map((a) => `u.${a.alias} AS ${q(M.absent(a.input))}`),
  ];
  const keys = plan.key.map(q);
  // Upsert: the greatest version wins, ties to the later row. Insert: the first row wins, as
  // the stored row wins over any later one.
  const order =
    plan.mode === 'upsert'
      ? [...keys, ...(plan.version ? [`${q(plan.version.name)} DESC NULLS LAST`] : []), `${q(ORDINAL)} DESC`]
      : [...keys, `${q(ORDINAL)} ASC`];
  const written = [...plan.columns.map((c) => c.name), ...(plan.arrivalColumn ? [plan.arrivalColumn] : [])].map(q);
  // Only used when the plan has a tombstone rule.
  const isTombstone = `red.${q(TOMBSTONE)} = $${params.tombstoneEquals}::text`;
  const isUpsert = `red.${q(TOMBSTONE)} IS DISTINCT FROM $${params.tombstoneEquals}::text`;
  const form = merge ? mergeForm(plan, params) : null;
  const remembered = plan.tombstone ? rememberedDeletes(plan, params, isTombstone, isUpsert, form?.tombstones) : null;
  // A snapshot table: a row older than its scope's newest snapshot is stale (compile-snapshot-guard.ts).
  const superseded = supersededBy(plan, 'red');
  // The merge form says itself which keys write (a delete that lost may still carry deltas).
  const filters = [
    ...(form ? (form.writes ? [form.writes] : []) : remembered ? [isUpsert] : []),
    ...(remembered ? [remembered.notBeaten] : []),
    ...(superseded ? [`NOT ${superseded}`] : []),
  ];
  const notTombstone = filters.length ? `WHERE ${filters.join(' AND ')}` : '';

  const guard = winnerGuard(plan, 'cur', 'EXCLUDED');
  const changed = withRevival(plan, changedPredicate(plan, 'cur', 'EXCLUDED'), 'cur');
  const conditions = plan.mode === 'upsert' ? [guard, changed].filter((x): x is string => x !== null) : [];
  const doUpdate = plan.mode === 'upsert' && changed !== null;
  const onConflict =
    form?.onConflict ??
    (doUpdate
      ? `ON CONFLICT (${keys.join(', ')}) DO UPDATE SET ${[...plan.updateColumns.map((c) => `${q(c)} = EXCLUDED.${q(c)}`), ...reviveAssignments(plan)].join(', ')}` +
        (conditions.length ? ` WHERE ${conditions.join(' AND ')}` : '')
      : `ON CONFLICT (${keys.join(', ')}) DO NOTHING`);

  const deleteGuard = winnerGuard(plan, 'cur', 'red');
  const del = plan.tombstone
    ? `, del AS (
  DELETE FROM ${plan.target} AS cur USING red
  WHERE ${isTombstone} AND ${keyJoin(plan, 'cur', 'red')}${deleteGuard ? ` AND ${deleteGuard}` : ''}${superseded ? ` AND NOT ${superseded}` : ''}
  RETURNING 1
)${remembered!.ctes}`
    : '';

  // Rows that changed nothing are stale (the stored row, or a remembered delete, wins) or
  // unchanged (equal to it). The look-up against the stored rows (the statement's snapshot:
  // before this write) runs only when some rows were skipped: an uncorrelated sub-select is
  // evaluated lazily. In insert mode an absent value equals the stored one.
  const absentEqual = (name: string) => {
    const absent = absentArrays.find((a) => a.name === name);
    return absent ? `CASE WHEN ${col('red', M.absent(absent.input))} THEN ${col('cur', name)} ELSE ${col('red', name)} END` : col('red', name);
  };
  const staleWhen =
    plan.mode === 'upsert'
      ? (() => {
          const g = winnerGuard(plan, 'cur', 'red');
          return g ? `NOT coalesce(${g}, false)` : 'false';
        })()
      : ((absentArrays.length ? changedPredicate(plan, 'cur', 'red', absentEqual) : changedPredicate(plan, 'cur', 'red')) ?? 'false');
  // In the merge form a row that lost to the stored one may still have written (its accumulating
  // columns count whatever its version): stale is what lost and wrote nothing.
  const unwritten = form ? `NOT EXISTS (SELECT 1 FROM ups WHERE ${keyJoin(plan, 'ups', 'red')}) AND ` : '';
  const lost =
    remembered || superseded
      ? `EXISTS (SELECT 1 FROM ${plan.target} AS cur WHERE ${keyJoin(plan, 'cur', 'red')} AND ${staleWhen})${remembered ? ` OR ${remembered.staleByTombstone}` : ''}${superseded ? ` OR ${superseded}` : ''}`
      : null;
  const staleRows = lost
    ? `SELECT count(*) FROM red WHERE ${form ? `${unwritten}(${lost})` : lost}`
    : `SELECT count(*) FROM red JOIN ${plan.target} AS cur ON ${keyJoin(plan, 'cur', 'red')} WHERE ${unwritten}${staleWhen}`;

  // Inserted vs updated without system columns (a partitioned table or a hypertable refuses
  // `RETURNING xmax`): a written row whose key the statement's snapshot does not hold was
  // inserted, the others updated. Every CTE reads the target as it was before this statement, so
  // this is the anti-join of the written keys against the stored ones (same operators as the
  // stale count, the arbiter's equality). Exact unless another transaction commits a write to
  // one of these keys while this statement runs (see docs/architecture.md, "How the counts are made").
  const newKeys = `SELECT count(*) FROM ups WHERE NOT EXISTS (SELECT 1 FROM ${plan.target} AS cur WHERE ${keyJoin(plan, 'cur', 'ups')})`;
  const unnestArrays = [...inputTypes.map((type, i) => `$${i + 1}::${type}[]`), `$${params.rowNumbers}::int8[]`, ...absentArrays.map((a) => `$${a.param}::bool[]`)];
  const reduction = form ? form.reduction : `, red AS (\n  SELECT DISTINCT ON (${keys.join(', ')}) * FROM src ORDER BY ${order.join(', ')}\n)`;
  // Without the sort: ON CONFLICT DO UPDATE meets a key repeated in `red` as a row this statement
  // already wrote and raises 21000 (before its WHERE), so a wrong "distinct" can never pass silently.
  const reductionOfDistinct = form ? form.reductionOfDistinct : doUpdate ? `, red AS (\n  SELECT * FROM src\n)` : null;
  const unsortable = reductionOfDistinct !== null && plan.mode === 'upsert' && !plan.tombstone && !plan.snapshot && !plan.nullsEqual;
  const statement = (reduction: string) => `WITH src AS (
  SELECT ${selectList.join(', ')}
  FROM unnest(${unnestArrays.join(', ')})
    WITH ORDINALITY AS u(${[...inputs, q(ROW_NUMBER), ...absentArrays.map((a) => a.alias), q(ORDINAL)].join(', ')})
)${reduction}, ups AS (
  INSERT INTO ${plan.target} AS cur (${written.join(', ')})
  SELECT ${written.map((c) => `red.${c}`).join(', ')} FROM red ${notTombstone}
  ${onConflict}
  RETURNING ${keys.map((k) => `cur.${k}`).join(', ')}
)${del}, n AS MATERIALIZED (
  SELECT cardinality($${params.rowNumbers}::int8[]) AS rows,
         (SELECT count(*) FROM red)::int AS reduced,
         (SELECT count(*) FROM ups)::int AS written,
         (${newKeys})::int AS inserted,
         ${plan.tombstone ? '(SELECT count(*) FROM del)::int' : '0'} AS deleted
), c AS MATERIALIZED (
  SELECT rows, reduced, inserted, written - inserted AS updated, deleted,
         CASE WHEN reduced > written + deleted
              THEN (${staleRows})::int
              ELSE 0 END AS stale
  FROM n
)
UPDATE landfall.batches AS b SET
  read = b.read + c.rows,
  collapsed = b.collapsed + c.rows - c.reduced,
  inserted = b.inserted + c.inserted,
  updated = b.updated + c.updated,
  unchanged = b.unchanged + c.reduced - c.inserted - c.updated - c.deleted - c.stale,
  stale = b.stale + c.stale,
  deleted = b.deleted + c.deleted,
  updated_at = now()
FROM c
WHERE b.batch_id = $${params.batchId}::text
RETURNING b.read, b.collapsed, b.inserted, b.updated, b.unchanged, b.stale, b.deleted, b.quarantined`;
  return { text: statement(reduction), extraParams, unsorted: unsortable ? statement(reductionOfDistinct!) : null };
}

/**
 * The fresh-insert fast path of a plan: `COPY … FROM STDIN` of the whole batch inside a
 * savepoint, then the counts. The target's unique index is the probe: it proves every key new
 * to the table and unique in the batch after casting (as the index sees keys, collation
 * included), or raises 23505 at the first key that is not, and the batch takes the upsert.
 * For the first full load of a table every row is then an insert and the winner rule has
 * nothing to decide. COPY keeps no session state: as safe behind a transaction-pooling proxy as
 * the upsert.
 */
export interface CompiledFreshInsert {
  /** `COPY target (…) FROM STDIN (FORMAT csv)`: the `copyInputs` columns, then the arrival column if any. */
  copy: string;
  copyInputs: number[];
  /** The COPY of rows that do not carry `omitted` (absent values): those columns left out, so they take their defaults. */
  copyLeavingOut(omitted: ReadonlySet<string>): string;
  /** Adds $1 inserted rows to the ledger row of batch $2; returns its totals. */
  count: string;
}

export function compileFreshInsert(plan: UpsertPlan): CompiledFreshInsert {
  const written = [...plan.columns.map((c) => c.name), ...(plan.arrivalColumn ? [plan.arrivalColumn] : [])];
  const copyOf = (columns: readonly string[]) => `COPY ${plan.target} (${columns.map(q).join(', ')}) FROM STDIN WITH (FORMAT csv)`;
  return {
    copy: copyOf(written),
    copyInputs: plan.columns.map((c) => c.input),
    copyLeavingOut: (omitted) => copyOf(written.filter((c) => !omitted.has(c))),
    count: `UPDATE landfall.batches AS b SET read = b.read + $1::int, inserted = b.inserted + $1::int, updated_at = now()
WHERE b.batch_id = $2::text
RETURNING b.read, b.collapsed, b.inserted, b.updated, b.unchanged, b.stale, b.deleted, b.quarantined`,
  };
}
