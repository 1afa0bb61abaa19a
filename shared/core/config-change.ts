import { isDeepStrictEqual } from 'node:util';
import { findTableForKey, type LandfallConfig } from './config.ts';

/**
 * How a config differs from the one files in flight were produced under. The batch limits and a
 * table's `partitions` do not count: a file picked up keeps the chunking its opening manifest
 * recorded, whatever the config says later.
 */
export interface ConfigChange {
  /** Tables of the previous config the new one lacks. */
  removed: string[];
  /** Tables whose settings differ (prefix, key, version, mode, delete, columns, schema…). */
  changed: string[];
}

/** A file the stack has not finished: the inbox key, and its table under the previous config (null: routed to none). */
export interface FileInFlight {
  key: string;
  table: string | null;
  /** What says it is in flight (`in the ledger, 3 batches applied`, `in the inbox`). */
  why: string;
}

/** A file in flight that the new config would route or apply otherwise, and why. */
export interface AffectedFile extends FileInFlight {
  change: string;
}

/** Pure: the tables removed or changed from `previous` to `next`. */
export function configChange(previous: LandfallConfig, next: LandfallConfig): ConfigChange {
  const byName = new Map(next.tables.map((t) => [t.table, t]));
  const settings = (t: LandfallConfig['tables'][number]) => ({ ...t, partitions: 0 });
  const removed: string[] = [];
  const changed: string[] = [];
  for (const t of previous.tables) {
    const now = byName.get(t.table);
    if (!now) removed.push(t.table);
    else if (!isDeepStrictEqual(settings(now), settings(t))) changed.push(t.table);
  }
  return { removed, changed };
}

/**
 * Pure: the files in flight that `next` would treat otherwise than `previous` did: their table
 * removed or changed, or their key routed to another table.
 *
 * @example affectedFiles(old, new, [{ key: 'big/a.csv', table: 'big', why: 'in the inbox' }]) // [{ …, change: 'table "big" is not in the new config' }]
 */
export function affectedFiles(previous: LandfallConfig, next: LandfallConfig, inFlight: readonly FileInFlight[]): AffectedFile[] {
  const change = configChange(previous, next);
  const affected: AffectedFile[] = [];
  for (const file of inFlight) {
    const table = file.table ?? findTableForKey(previous, file.key)?.table ?? null;
    // A key under no prefix before was never taken up: whatever the new config does with it is new.
    if (table === null) continue;
    const routed = findTableForKey(next, file.key)?.table ?? null;
    let why: string | null = null;
    if (change.removed.includes(table)) why = `table "${table}" is not in the new config`;
    else if (change.changed.includes(table)) why = `table "${table}" is configured otherwise`;
    else if (routed !== table) why = routed === null ? 'its key is under no prefix of the new config' : `its key now routes to table "${routed}"`;
    if (why) affected.push({ ...file, table, change: why });
  }
  return affected;
}
