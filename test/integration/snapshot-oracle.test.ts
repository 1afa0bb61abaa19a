import { describe, expect, test } from 'vitest';
import { fileArrivalOf } from '../../shared/core/batch.ts';
import { applyBatch } from '../../shared/postgres/apply-batch.ts';
import { fileReceipts } from '../../shared/postgres/ledger/files.ts';
import { removeMissing } from '../../shared/postgres/snapshot-removal.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { prepare } from '../helpers/engine.ts';
import { type ModelCounts, randomFile, seeded, SnapshotModel } from '../helpers/snapshot-model.ts';
import { applyFileRows, at } from '../helpers/snapshots.ts';

const { sql } = await createTestDatabase();
const SEED = Number(process.env.SNAPSHOT_SEED ?? Math.floor(Math.random() * 2 ** 31));

/**
 * Snapshots and incremental files of a per-parent table, applied in an order other than their
 * arrival (late files, redeliveries, a removal run twice), against the model of the rules
 * (test/helpers/snapshot-model.ts): every file's counts and `removed`, and the table after each.
 */
describe.each(['hard', 'soft'] as const)(`randomized oracle, %s delete (SNAPSHOT_SEED=${SEED})`, (kind) => {
  test('the table and every receipt match the model', async () => {
    console.log(`snapshot oracle (${kind}): SNAPSHOT_SEED=${SEED}`);
    const random = seeded(SEED + (kind === 'soft' ? 1 : 0));
    const table = `oracle_${kind}`;
    await sql.unsafe(`CREATE TABLE ${table} (task_pk int NOT NULL, photo_id int NOT NULL, url text, deleted_at timestamptz, _landfall_arrival text COLLATE "C", PRIMARY KEY (task_pk, photo_id))`);
    const target = await prepare(sql, {
      table,
      conflictKey: ['task_pk', 'photo_id'],
      mode: 'snapshot',
      scope: ['task_pk'],
      incrementalPrefix: `${table}/changes/`,
      missing: { maxRemovedShare: 1, ...(kind === 'soft' ? { softDelete: 'deleted_at' } : {}) },
    });
    const model = new SnapshotModel(kind === 'soft');
    // 24 files by arrival; applied in an order where about a third arrive late.
    const files = Array.from({ length: 24 }, (_, i) => {
      const snapshot = random() < 0.6;
      const rows = randomFile(random, { tasks: 4, photos: 5, snapshot, duplicates: true });
      const identity = { key: `${table}/${snapshot ? '' : 'changes/'}f${String(i).padStart(2, '0')}.csv`, eventTime: at(i) };
      return { snapshot, rows, identity, arrival: fileArrivalOf(identity) };
    });
    const order = files.map((_, i) => i);
    for (let i = 0; i < order.length; i++) {
      if (random() < 0.35) {
        const j = Math.min(order.length - 1, i + 1 + Math.floor(random() * 4));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
    }
    const stored = async () =>
      (await sql.unsafe<{ task_pk: number; photo_id: number; url: string; deleted: boolean }[]>(`SELECT task_pk, photo_id, url, deleted_at IS NOT NULL AS deleted FROM ${table} ORDER BY task_pk, photo_id`)).map(
        (r) => `${r.task_pk}/${r.photo_id}:${r.url}${r.deleted ? ' deleted' : ''}`,
      );
    let lateFiles = 0;
    for (const [step, index] of order.entries()) {
      const file = files[index]!;
      if (order.slice(0, step).some((earlier) => earlier > index)) lateFiles++;
      const rows = file.rows.map((r) => ({ task_pk: String(r.task_pk), photo_id: String(r.photo_id), url: r.url }));
      const applied = await applyFileRows(sql, target, rows, { file: file.identity, batchRows: 1000, columns: ['task_pk', 'photo_id', 'url'] });
      const outcome = file.snapshot ? await removeMissing(sql, target, applied.fileId) : null;
      // A redelivery of its batch and a second run of its removal change nothing.
      if (random() < 0.3) {
        for (const batch of applied.batches) expect((await applyBatch(sql, target, batch)).status).toBe('already-applied');
        if (file.snapshot) expect(await removeMissing(sql, target, applied.fileId)).toMatchObject({ state: 'done', already: true });
      }
      const expected: ModelCounts = model.apply({ arrival: file.arrival, rows: file.rows, snapshot: file.snapshot });
      const [receipt] = await fileReceipts(sql, { fileIds: [applied.fileId] });
      const what = `step ${step}: file ${index} (${file.snapshot ? 'snapshot' : 'incremental'}, ${file.rows.length} rows)`;
      expect({ ...receipt!, status: receipt!.status }, what).toMatchObject({ status: 'complete', ...expected });
      if (outcome) expect(outcome, what).toMatchObject({ state: 'done', removed: expected.removed });
      expect(await stored(), what).toEqual(model.table());
    }
    // The run really exercised late files and removals.
    expect(lateFiles).toBeGreaterThan(0);
    expect(files.filter((f) => f.snapshot).length).toBeGreaterThan(3);
  }, 120_000);
});
