import { InboxLayout, StagingLayout } from './resources.ts';

/**
 * Every key Landfall writes, built from the prefixes the stack's lifecycle rules and grants use
 * (resources.ts, StagingLayout and InboxLayout), so the two cannot drift apart.
 */

/** Prefix of the inbox bucket where unreadable files and rejected rows are put. */
export const REJECTED_PREFIX = InboxLayout.rejectsPrefix;

/** Staging key of one batch object: deterministic in (table, file, partition, chunk). */
export function batchKeyOf(table: string, fileId: string, partition: number, chunk: number): string {
  return `${StagingLayout.batchesPrefix}${table}/${fileId}/${partition}-${chunk}.json.gz`;
}

/** Staging key of a file's manifest. */
export function manifestKeyOf(table: string, fileId: string): string {
  return `${StagingLayout.manifestsPrefix}${table}/${fileId}.json`;
}

/** Inbox key of a file's rejected rows, beside the moved-aside files; one per file version. */
export function rejectsKeyOf(key: string, fileId: string): string {
  return `${REJECTED_PREFIX}${key}.${fileId}.rejects.ndjson`;
}

/** Inbox key an unreadable file is moved to, and the key of its reason object. */
export function movedAsideKeysOf(key: string): { file: string; reason: string } {
  return { file: `${REJECTED_PREFIX}${key}`, reason: `${REJECTED_PREFIX}${key}.reason.json` };
}

/** True for keys the producer itself writes into the inbox; they are never produced. */
export function isRejectedKey(key: string): boolean {
  return key.startsWith(REJECTED_PREFIX);
}
