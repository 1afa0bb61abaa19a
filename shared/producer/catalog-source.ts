import { catalogSnapshotKeyOf, parseSnapshot, type CatalogSnapshot } from '../core/catalog-snapshot.ts';
import type { ObjectStore } from './ports.ts';

/** The tables' catalog snapshots as the producer sees them. */
export interface CatalogSource {
  /** The table's snapshot, kept for the container's life once found; null while none was written. */
  get(table: string): Promise<CatalogSnapshot | null>;
  /** Reads it again: a file did not fit the kept one (an `ALTER TABLE` since?). */
  refresh(table: string): Promise<CatalogSnapshot | null>;
}

export interface StoredCatalogOptions {
  /** Where the caller can reach the database (the local stack): has the catalog read and the snapshot written again. */
  reread?: (table: string) => Promise<void>;
  /** A kept snapshot is read again from staging after this long (default 5 minutes). */
  maxAgeMs?: number;
  now?: () => number;
}

/**
 * Snapshots read from the staging bucket, kept for `maxAgeMs`. `reread` runs before a refresh,
 * and when there is no snapshot yet.
 */
export function storedCatalog(store: ObjectStore, bucket: string, options: StoredCatalogOptions = {}): CatalogSource {
  const { reread, maxAgeMs = 5 * 60_000, now = Date.now } = options;
  const kept = new Map<string, { snapshot: CatalogSnapshot; at: number }>();
  const load = async (table: string) => {
    const text = await store.getText(bucket, catalogSnapshotKeyOf(table));
    const snapshot = text === null ? null : parseSnapshot(text);
    if (snapshot) kept.set(table, { snapshot, at: now() });
    else kept.delete(table);
    return snapshot;
  };
  const fresh = (table: string) => {
    const entry = kept.get(table);
    return entry && now() - entry.at < maxAgeMs ? entry.snapshot : undefined;
  };
  return {
    async get(table) {
      const snapshot = fresh(table) ?? (await load(table));
      if (snapshot || !reread) return snapshot;
      await reread(table);
      return load(table);
    },
    async refresh(table) {
      await reread?.(table);
      return load(table);
    },
  };
}
