import { quoteIdent as q } from '../core/identifiers.ts';
import { TOMB_ARRIVAL, TOMB_DELETED_AT, TOMB_VERSION, TOMBSTONE_PURGE_LIMIT } from '../core/tombstone-names.ts';
import { ORDINAL, ROW_ARRIVAL, ROW_NUMBER, TOMBSTONE, type UpsertPlan } from '../core/upsert-plan.ts';

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
}

export type ExtraParam = 'rowNumbers' | 'arrival' | 'tombstoneEquals' | 'tombstoneRetentionDays' | 'batchId';

/** `cur."v"` etc. */
const col = (alias: string, name: string) => `${alias}.${q(name)}`;

/**
 * The winner rule as a predicate over a stored row `cur` and an incoming row `inc`: true when the
 * incoming row may replace the stored one (DESIGN.md rule 1). null means "always".
 */
export function winnerGuard(plan: UpsertPlan, cur: string, inc: string): string | null {
  const a = plan.arrivalColumn;
  const tie = a ? `(${col(cur, a)} IS NULL OR ${col(cur, a)} COLLATE "C" <= ${col(inc, a)} COLLATE "C")` : null;
  const v = plan.version?.name;
  if (!v) return tie;
  const newer = `${col(inc, v)} > ${col(cur, v)} OR (${col(cur, v)} IS NULL AND ${col(inc, v)} IS NOT NULL)`;
  const same = `${col(inc, v)} IS NOT DISTINCT FROM ${col(cur, v)}`;
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
export function changedPredicate(plan: UpsertPlan, cur: string, inc: string): string | null {
  if (plan.compareColumns.length === 0) return null;
  const side = (alias: string) => plan.compareColumns.map((c) => compared(col(alias, c.name), c)).join(', ');
  return `(${side(cur)}) IS DISTINCT FROM (${side(inc)})`;
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

function keyJoin(plan: UpsertPlan, cur: string, inc: string): string {
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

/**
 * The statement's part of DESIGN.md rule 6, against the plan's tombstone table `t` (see
 * tombstones.ts): a tombstone that wins over the stored row (or finds none) is remembered with
 * its version and arrival; an upsert a live (unexpired) tombstone beats is stale and written
 * nowhere; an upsert that beats it clears it. Expired ones are purged, a bounded number per
 * statement, skipping rows another transaction holds and the keys this statement touches (no
 * row is modified twice by one statement).
 */
function rememberedDeletes(plan: UpsertPlan, params: Record<ExtraParam, number>, isTombstone: string, isUpsert: string): RememberedDeletes {
  const tomb = plan.tombstone!;
  const rel = tomb.remembered;
  const arrival = plan.arrivalColumn ?? ROW_ARRIVAL;
  const version = plan.version ? col('red', plan.version.name) : null;
  const live = (t: string) => `${col(t, TOMB_DELETED_AT)} >= now() - $${params.tombstoneRetentionDays}::float8 * interval '1 day'`;
  const beatenBy = (t: string) => `${live(t)} AND NOT coalesce(${beatsTombstone(plan, version, col('red', arrival), t)}, false)`;
  const notBeaten = `NOT EXISTS (SELECT 1 FROM ${rel} AS t WHERE ${keyJoin(plan, 't', 'red')} AND ${beatenBy('t')})`;
  const deleteGuard = winnerGuard(plan, 'cur', 'red');
  const notOutdated = deleteGuard
    ? ` AND NOT EXISTS (SELECT 1 FROM ${plan.target} AS cur WHERE ${keyJoin(plan, 'cur', 'red')} AND NOT coalesce(${deleteGuard}, false))`
    : '';
  const keys = plan.key.map(q);
  const stored = [...keys, ...(plan.version ? [q(TOMB_VERSION)] : []), q(TOMB_ARRIVAL), q(TOMB_DELETED_AT)];
  const values = [...keys.map((k) => `red.${k}`), ...(version ? [version] : []), col('red', arrival), 'now()'];
  const excludedBeats = beatsTombstone(plan, plan.version ? col('EXCLUDED', TOMB_VERSION) : null, col('EXCLUDED', TOMB_ARRIVAL), 't');
  const ctes = `, tomb_put AS (
  INSERT INTO ${rel} AS t (${stored.join(', ')})
  SELECT ${values.join(', ')} FROM red WHERE ${isTombstone}${notOutdated}
  ON CONFLICT (${keys.join(', ')}) DO UPDATE SET ${stored.slice(keys.length).map((c) => `${c} = EXCLUDED.${c}`).join(', ')}
    WHERE NOT (${live('t')}) OR coalesce(${excludedBeats}, false)
), tomb_clear AS (
  DELETE FROM ${rel} AS t USING red
  WHERE ${isUpsert} AND ${keyJoin(plan, 't', 'red')} AND (NOT (${live('t')}) OR coalesce(${beatsTombstone(plan, version, col('red', arrival), 't')}, false))
), tomb_purge AS (
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

export function compileUpsert(plan: UpsertPlan): CompiledUpsert {
  const n = plan.inputCount;
  const extraParams: ExtraParam[] = ['rowNumbers', 'batchId'];
  if (plan.arrivalColumn || plan.tombstone) extraParams.push('arrival');
  if (plan.tombstone) extraParams.push('tombstoneEquals', 'tombstoneRetentionDays');
  const params = Object.fromEntries(extraParams.map((name, i) => [name, n + 1 + i])) as Record<ExtraParam, number>;
  const inputs = Array.from({ length: n }, (_, i) => `i${i}`);
  // Each array is parsed straight into its column's type (one parse, no text intermediate);
  // inputs that are not table columns (the tombstone) stay text.
  const inputTypes = inputs.map(() => 'text');
  for (const c of plan.columns) inputTypes[c.input] = c.param;
  const rowArrival = `$${params.arrival}::text || '!' || lpad(u.${q(ROW_NUMBER)}::text, 12, '0')`;
  const selectList = [
    `u.${q(ORDINAL)}`,
    `u.${q(ROW_NUMBER)}`,
    ...plan.columns.map((c) => `u.i${c.input}${c.cast ? `::${c.cast}` : ''}${c.collate ? ` COLLATE ${c.collate}` : ''} AS ${q(c.name)}`),
    // A batch without the delete column has no tombstone row (NULL never equals the rule's
    // value) but still meets the remembered deletes.
    ...(plan.tombstone ? [`${plan.tombstone.input === null ? 'NULL::text' : `u.i${plan.tombstone.input}`} AS ${q(TOMBSTONE)}`] : []),
    // arrivalValueOf computes the same value for COPY (insertIfFresh); keep the two equal.
    ...(plan.arrivalColumn ? [`${rowArrival} AS ${q(plan.arrivalColumn)}`] : plan.tombstone ? [`${rowArrival} AS ${q(ROW_ARRIVAL)}`] : []),
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
  const remembered = plan.tombstone ? rememberedDeletes(plan, params, isTombstone, isUpsert) : null;
  const notTombstone = remembered ? `WHERE ${isUpsert} AND ${remembered.notBeaten}` : '';

  const guard = winnerGuard(plan, 'cur', 'EXCLUDED');
  const changed = changedPredicate(plan, 'cur', 'EXCLUDED');
  const conditions = plan.mode === 'upsert' ? [guard, changed].filter((x): x is string => x !== null) : [];
  const doUpdate = plan.mode === 'upsert' && changed !== null;
  const onConflict = doUpdate
    ? `ON CONFLICT (${keys.join(', ')}) DO UPDATE SET ${plan.updateColumns.map((c) => `${q(c)} = EXCLUDED.${q(c)}`).join(', ')}` +
      (conditions.length ? ` WHERE ${conditions.join(' AND ')}` : '')
    : `ON CONFLICT (${keys.join(', ')}) DO NOTHING`;

  const deleteGuard = winnerGuard(plan, 'cur', 'red');
  const del = plan.tombstone
    ? `, del AS (
  DELETE FROM ${plan.target} AS cur USING red
  WHERE ${isTombstone} AND ${keyJoin(plan, 'cur', 'red')}${deleteGuard ? ` AND ${deleteGuard}` : ''}
  RETURNING 1
)${remembered!.ctes}`
    : '';

  // Rows that changed nothing are stale (the stored row, or a remembered delete, wins) or
  // unchanged (equal to it). The look-up against the stored rows (the statement's snapshot:
  // before this write) runs only when some rows were skipped: an uncorrelated sub-select is
  // evaluated lazily.
  const staleWhen =
    plan.mode === 'upsert'
      ? (() => {
          const g = winnerGuard(plan, 'cur', 'red');
          return g ? `NOT coalesce(${g}, false)` : 'false';
        })()
      : (changedPredicate(plan, 'cur', 'red') ?? 'false');
  const staleRows = remembered
    ? `SELECT count(*) FROM red WHERE EXISTS (SELECT 1 FROM ${plan.target} AS cur WHERE ${keyJoin(plan, 'cur', 'red')} AND ${staleWhen}) OR ${remembered.staleByTombstone}`
    : `SELECT count(*) FROM red JOIN ${plan.target} AS cur ON ${keyJoin(plan, 'cur', 'red')} WHERE ${staleWhen}`;

  // Inserted vs updated without system columns (a partitioned table or a hypertable refuses
  // `RETURNING xmax`): a written row whose key the statement's snapshot does not hold was
  // inserted, the others updated. Every CTE reads the target as it was before this statement, so
  // this is the anti-join of the written keys against the stored ones (same operators as the
  // stale count, the arbiter's equality). Exact unless another transaction commits a write to
  // one of these keys while this statement runs (see docs/architecture.md, "How the counts are made").
  const newKeys = `SELECT count(*) FROM ups WHERE NOT EXISTS (SELECT 1 FROM ${plan.target} AS cur WHERE ${keyJoin(plan, 'cur', 'ups')})`;
  const text = `WITH src AS (
  SELECT ${selectList.join(', ')}
  FROM unnest(${inputTypes.map((type, i) => `$${i + 1}::${type}[]`).join(', ')}, $${params.rowNumbers}::int8[])
    WITH ORDINALITY AS u(${[...inputs, q(ROW_NUMBER), q(ORDINAL)].join(', ')})
), red AS (
  SELECT DISTINCT ON (${keys.join(', ')}) * FROM src ORDER BY ${order.join(', ')}
), ups AS (
  INSERT INTO ${plan.target} AS cur (${written.join(', ')})
  SELECT ${written.map((c) => `red.${c}`).join(', ')} FROM red ${notTombstone}
  ${onConflict}
  RETURNING ${keys.map((k) => `cur.${k}`).join(', ')}
)${del}, n AS (
  SELECT (SELECT count(*) FROM src)::int AS rows,
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
  return { text, extraParams };
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
  /** Adds $1 inserted rows to the ledger row of batch $2; returns its totals. */
  count: string;
}

export function compileFreshInsert(plan: UpsertPlan): CompiledFreshInsert {
  const written = [...plan.columns.map((c) => c.name), ...(plan.arrivalColumn ? [plan.arrivalColumn] : [])];
  return {
    copy: `COPY ${plan.target} (${written.map(q).join(', ')}) FROM STDIN WITH (FORMAT csv)`,
    copyInputs: plan.columns.map((c) => c.input),
    count: `UPDATE landfall.batches AS b SET read = b.read + $1::int, inserted = b.inserted + $1::int, updated_at = now()
WHERE b.batch_id = $2::text
RETURNING b.read, b.collapsed, b.inserted, b.updated, b.unchanged, b.stale, b.deleted, b.quarantined`,
  };
}
