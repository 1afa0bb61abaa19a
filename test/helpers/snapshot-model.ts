/**
 * A model of the rules for a per-parent snapshot table (`task_pk`, `photo_id` → `url`, version
 * `$arrival`, scope `["task_pk"]`), the oracle of the randomized tests: files applied in any
 * order, each with its S3 arrival; snapshot files remove what their scopes no longer hold.
 *
 * - rule 1: a row wins when its arrival is not older than the stored row's last write; an equal
 *   row writes nothing (so it leaves the stored arrival alone);
 * - a row older than its scope's newest applied snapshot is stale;
 * - a snapshot's removal, after its rows: each scope it names that no newer snapshot settled
 *   becomes its newest; there, each stored row whose key the file lacks and whose last write is
 *   older than the file goes (hard), or is marked deleted with the snapshot's arrival (soft).
 */
export interface PhotoRow {
  task_pk: number;
  photo_id: number;
  url: string;
}

export interface ModelFile {
  /** The file's arrival (`fileArrivalOf`). */
  arrival: string;
  rows: PhotoRow[];
  snapshot: boolean;
}

export interface ModelCounts {
  read: number;
  collapsed: number;
  inserted: number;
  updated: number;
  unchanged: number;
  stale: number;
  removed: number;
}

interface Stored extends PhotoRow {
  arrival: string;
  deleted: boolean;
}

const keyOf = (r: Pick<PhotoRow, 'task_pk' | 'photo_id'>) => `${r.task_pk}/${r.photo_id}`;
const rowArrival = (file: string, row: number) => `${file}!${String(row).padStart(12, '0')}`;

export class SnapshotModel {
  readonly rows = new Map<string, Stored>();
  readonly newest = new Map<number, string>();
  constructor(readonly soft: boolean) {}

  apply(file: ModelFile): ModelCounts {
    const counts: ModelCounts = { read: file.rows.length, collapsed: 0, inserted: 0, updated: 0, unchanged: 0, stale: 0, removed: 0 };
    // One batch per file: a key repeated in it collapses to its last row.
    const winners = new Map<string, { row: PhotoRow; n: number }>();
    file.rows.forEach((row, i) => winners.set(keyOf(row), { row, n: i + 1 }));
    counts.collapsed = file.rows.length - winners.size;
    for (const [key, { row, n }] of winners) {
      const arrival = rowArrival(file.arrival, n);
      const stored = this.rows.get(key);
      const newest = this.newest.get(row.task_pk);
      if (newest !== undefined && newest > arrival) counts.stale++;
      else if (!stored) {
        this.rows.set(key, { ...row, arrival, deleted: false });
        counts.inserted++;
      } else if (stored.arrival > arrival) counts.stale++;
      else if (stored.url === row.url && !stored.deleted) counts.unchanged++;
      else {
        this.rows.set(key, { ...row, arrival, deleted: false });
        counts.updated++;
      }
    }
    if (!file.snapshot) return counts;
    const snapshot = `${file.arrival}!`;
    for (const task of new Set(file.rows.map((r) => r.task_pk))) {
      const newest = this.newest.get(task);
      if (newest !== undefined && newest >= snapshot) continue;
      this.newest.set(task, snapshot);
      for (const [key, stored] of this.rows) {
        if (stored.task_pk !== task || winners.has(key) || stored.arrival > snapshot) continue;
        if (!this.soft) {
          this.rows.delete(key);
          counts.removed++;
        } else if (!stored.deleted) {
          this.rows.set(key, { ...stored, deleted: true, arrival: snapshot });
          counts.removed++;
        }
      }
    }
    return counts;
  }

  /** The table as `task/photo:url` (and ` deleted` for a soft-deleted row), sorted. */
  table(): string[] {
    return [...this.rows.values()]
      .sort((a, b) => a.task_pk - b.task_pk || a.photo_id - b.photo_id)
      .map((r) => `${r.task_pk}/${r.photo_id}:${r.url}${r.deleted ? ' deleted' : ''}`);
  }
}

/** A small deterministic random source (the tests print the seed). */
export function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

/** A random file: a snapshot of 1–3 tasks (each with a random subset of its photos) or a few incremental rows. */
export function randomFile(random: () => number, options: { tasks: number; photos: number; snapshot: boolean; duplicates?: boolean }): PhotoRow[] {
  const pick = (n: number) => Math.floor(random() * n);
  const url = () => `u${pick(3)}`;
  const rows: PhotoRow[] = [];
  if (options.snapshot) {
    const tasks = new Set(Array.from({ length: 1 + pick(3) }, () => 1 + pick(options.tasks)));
    for (const task of tasks) for (let p = 1; p <= options.photos; p++) if (random() < 0.7) rows.push({ task_pk: task, photo_id: p, url: url() });
  } else {
    const seen = new Set<string>();
    for (let i = 0; i < 1 + pick(4); i++) {
      const row = { task_pk: 1 + pick(options.tasks), photo_id: 1 + pick(options.photos), url: url() };
      if (!seen.has(keyOf(row))) rows.push(row);
      seen.add(keyOf(row));
    }
  }
  if (options.duplicates && rows.length && random() < 0.3) rows.push({ ...rows[pick(rows.length)]!, url: url() });
  return rows;
}
