import { createHash } from 'node:crypto';
import { quoteQualified, type QualifiedName } from './identifiers.ts';

/** The names of remembered deletes (postgres/tombstones.ts owns the DDL, postgres/compile-upsert.ts the statements). */
export const TOMB_VERSION = 'landfall$version';
export const TOMB_ARRIVAL = 'landfall$arrival';
export const TOMB_DELETED_AT = 'landfall$deleted_at';

/** Expired tombstones one statement removes at most (the purge rides along with every batch). */
export const TOMBSTONE_PURGE_LIMIT = 1000;

/** The tombstone table of a target table: readable, unique, at most 63 bytes. */
export function tombstoneRelationOf(table: QualifiedName): { schema: 'landfall'; name: string; quoted: string } {
  const hash = createHash('sha256').update(`${table.schema}\u0000${table.name}`).digest('hex').slice(0, 10);
  const readable = Buffer.from(table.name, 'utf8').subarray(0, 40).toString('utf8').replace(/\uFFFD+$/, '');
  const name = `tombstones_${readable}_${hash}`;
  return { schema: 'landfall', name, quoted: quoteQualified({ schema: 'landfall', name }) };
}
