import { beforeAll, describe, expect, test } from 'vitest';
import { canonicalizerFor } from '../../shared/core/canonical-key.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { EQUAL_SPELLINGS } from '../helpers/key-spellings.ts';

const { sql } = await createTestDatabase();

beforeAll(async () => {
  await sql`CREATE EXTENSION IF NOT EXISTS citext`;
  await sql`CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`;
});

/** How many distinct values PostgreSQL sees among `values` cast to the column's type. */
async function distinctInPostgres(row: (typeof EQUAL_SPELLINGS)[number], values: string[]): Promise<number> {
  const cast = `s::${row.column.type}${row.column.collation ? ` COLLATE "${row.column.collation.name}"` : ''}`;
  const [result] = (await sql.begin(async (tx) => {
    await tx`SELECT set_config('TimeZone', ${row.timeZone ?? 'UTC'}, true)`;
    return tx.unsafe(`SELECT count(DISTINCT ${cast})::int AS n FROM unnest($1::text[]) AS s`, [values]);
  })) as { n: number }[];
  return result!.n;
}

describe('the canonical key table agrees with PostgreSQL', () => {
  test.each(EQUAL_SPELLINGS)('$label: PostgreSQL holds the spellings equal and the other one different; so does the canonical form', async (row) => {
    const c = canonicalizerFor(row.column, row.timeZone ?? 'UTC');

    expect(await distinctInPostgres(row, row.equal)).toBe(1);
    expect(await distinctInPostgres(row, [...row.equal, row.other])).toBe(2);
    expect(new Set(row.equal.map((s) => c.canonical(s))).size).toBe(1);
  });
});
