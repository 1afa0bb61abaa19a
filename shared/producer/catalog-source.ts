import { catalogSnapshotKeyOf, parseSnapshot, type CatalogSnapshot } from '../catalog-snapshot.ts';
import type { ObjectStore } from './ports.ts';

/** The tables' catalog snapshots as the producer sees them. */
export interface CatalogSource {
  /** The table's snapshot, kept for the container's life once found; null while none was written. */
  get(table: string): Promise<CatalogSnapshot | null>;
  /** Reads it again: a file did not fit the kept one (an `ALTER TABLE` since?). */
  refresh(table: string): Promise<CatalogSnapshot | null>;
}

/**
 * Snapshots read from the staging bucket. `reread`, where the caller can reach the database
 * (the local stack), has the catalog read and the snapshot written again before a refresh, and
 * when there is none yet.
 */
export function storedCatalog(store: ObjectStore, bucket: string, reread?: (table: string) => Promise<void>): CatalogSource {
  const kept = new Map<string, CatalogSnapshot>();
  const load = async (table: string) => {
    const text = await store.getText(bucket, catalogSnapshotKeyOf(table));
    const snapshot = text === null ? null : parseSnapshot(text);
    if (snapshot) kept.set(table, snapshot);
    else kept.delete(table);
    return snapshot;
  };
  return {
    async get(table) {
      const snapshot = kept.get(table) ?? (await load(table));
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
