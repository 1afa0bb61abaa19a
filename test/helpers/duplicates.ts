import type postgres from 'postgres';

/** A small seeded PRNG (mulberry32): the same seed gives the same table. */
export function randomSource(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)) };
}

export interface SeedRow {
  sku: string;
  region: string | null;
  version: number | null;
  payload: string;
}

/**
 * Rows for `groups` duplicate keys of 2–50 copies each plus `singles` unique keys, shuffled so
 * copies of a key are spread over the heap. Every tenth key has a NULL region; versions repeat
 * (ties) and are sometimes NULL.
 */
export function duplicateRows(seed: number, groups: number, singles: number, copies: [number, number] = [2, 50]): SeedRow[] {
  const rnd = randomSource(seed);
  const rows: SeedRow[] = [];
  for (let g = 0; g < groups + singles; g++) {
    const n = g < groups ? rnd.int(copies[0], copies[1]) : 1;
    const region = g % 10 === 3 ? null : `r${g % 7}`;
    for (let i = 0; i < n; i++) {
      rows.push({ sku: `sku-${g}`, region, version: rnd.next() < 0.05 ? null : rnd.int(0, 20), payload: `p-${g}-${i}-${rnd.int(0, 1e9)}` });
    }
  }
  for (let i = rows.length - 1; i > 0; i--) {
    const j = Math.floor(rnd.next() * (i + 1));
    [rows[i], rows[j]] = [rows[j]!, rows[i]!];
  }
  return rows;
}

/** Inserts rows into `table (sku, region, version, payload)` with one bound array per column. */
export async function insertRows(sql: postgres.Sql, table: string, rows: SeedRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 50_000) {
    const chunk = rows.slice(i, i + 50_000);
    await sql.unsafe(
      `INSERT INTO ${table} (sku, region, version, payload)
       SELECT * FROM unnest($1::text[], $2::text[], $3::int4[], $4::text[])`,
      [chunk.map((r) => r.sku), chunk.map((r) => r.region), chunk.map((r) => r.version), chunk.map((r) => r.payload)] as never[],
    );
  }
}

export interface StoredRow extends SeedRow {
  id: string;
}

export const keyOf = (r: { sku: string; region: string | null }) => `${r.sku}\u0000${r.region ?? '\u0001NULL'}`;

/**
 * The winner of each key among `rows` by the keep rule `newest:version` (NULL lowest), ties to
 * the larger tie-break value. Independent of the SQL under test.
 */
export function expectedWinners<R extends { sku: string; region: string | null; version: number | null }>(rows: R[], tieBreak: (a: R, b: R) => number): Map<string, R> {
  const winners = new Map<string, R>();
  const rank = (v: number | null) => (v === null ? -Infinity : v);
  for (const row of rows) {
    const key = keyOf(row);
    const best = winners.get(key);
    if (!best || rank(row.version) > rank(best.version) || (rank(row.version) === rank(best.version) && tieBreak(row, best) > 0)) winners.set(key, row);
  }
  return winners;
}
