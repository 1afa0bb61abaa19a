/**
 * Snapshot benchmark: the removal of a snapshot file (docs/rules.md, "Snapshots") against a plain
 * anti-join DELETE of the same rows, and what recording a snapshot file's keys costs its batches,
 * measured in the same run on the same server over one connection. Not a test: it prints a table.
 *
 *   npm run bench:snapshot                  # a table of 2,000,000 rows, 10% of the scope missing
 *   ROWS=500000 ROUNDS=5 npm run bench:snapshot
 *
 * Scenarios (ROUNDS interleaved rounds, default 3; ratios inside a round, median and range):
 * - the removal (`removeMissing`: the lock, the claim, the key count check, the scopes, one
 *   anti-join per chunk of scopes, the ledger, forgetting the keys) of a whole-table snapshot
 *   that lacks 10% of the table's keys, against `DELETE … WHERE NOT EXISTS (…keys…)` of the same
 *   rows from a copy of the table; then the same with one scope per parent (`scope: ["task"]`,
 *   100 rows each) against the plain DELETE restricted to the file's parents;
 * - a 200,000-row file of unchanged rows applied in batches of 10,000 to the snapshot table
 *   (the shared lock, the keys recorded, the newer-scope check) against the same file applied to
 *   a plain upsert table.
 * The last line is for scripts:
 *   snapshot: removal <r>x plain anti-join DELETE, per parent <r>x, batches <r>x plain upsert batches
 *
 * DATABASE_URL points it at your own PostgreSQL; otherwise it starts the embedded one.
 */
import postgres from 'postgres';
import { parseConfig } from '../shared/core/config.ts';
import { SNAP_FILE } from '../shared/core/snapshot-plan.ts';
import { applyBatch } from '../shared/postgres/apply-batch.ts';
import { registerFile } from '../shared/postgres/ledger/files.ts';
import { snapshotFileSeq } from '../shared/postgres/ledger/snapshot-files.ts';
import { migrateLedger } from '../shared/postgres/ledger/migrate.ts';
import { removeMissing } from '../shared/postgres/snapshot-removal.ts';
import { prepareTable, type TargetTable } from '../shared/postgres/target-table.ts';
import { batchOfColumns, fileIdentity } from '../test/helpers/batches.ts';
import { manifestOf } from '../test/helpers/manifests.ts';
import { benchDatabase } from './database.ts';
import { formatRatio, printTable, ratioOf, runRounds, type Scenario } from './rounds.ts';

const ROWS = Number(process.env.ROWS ?? 2_000_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const PER_TASK = 100;
const BATCH_FILE_ROWS = Number(process.env.BATCH_ROWS ?? 200_000);
const BATCH = 10_000;
const OLD = '2000-01-01T00:00:00.000Z!00!000000000001';

const S = {
  plain: 'plain anti-join DELETE, whole table (reference)',
  removal: 'removal, whole-table scope',
  plainTask: 'plain anti-join DELETE of the file\'s parents (reference)',
  removalTask: 'removal, one scope per parent',
  upsertBatches: 'batches into a plain upsert table (reference)',
  snapshotBatches: 'batches of a snapshot file',
} as const;

const columns = (table: string) => `CREATE TABLE ${table} (task int NOT NULL, photo int NOT NULL, url text, _landfall_arrival text COLLATE "C", PRIMARY KEY (task, photo))`;
const fill = (table: string, rows: number) =>
  `INSERT INTO ${table} (task, photo, url, _landfall_arrival) SELECT i / ${PER_TASK}, i % ${PER_TASK}, 'https://example.com/' || i, '${OLD}' FROM generate_series(0, ${rows - 1}) AS i`;
/** The file's keys: every row of the table but one in ten (photo % 10 = 0 is missing). */
const fileKeys = `SELECT i / ${PER_TASK} AS task, i % ${PER_TASK} AS photo FROM generate_series(0, ${ROWS - 1}) AS i WHERE i % 10 <> 0`;

async function reset(sql: postgres.Sql, table: string) {
  await sql.unsafe(`TRUNCATE ${table}`);
  await sql.unsafe(fill(table, ROWS));
  await sql.unsafe(`VACUUM ANALYZE ${table}`);
}

/** A snapshot file whose batches are applied (as far as the ledger and the keys table know): its removal is due. */
async function fileDue(sql: postgres.Sql, target: TargetTable): Promise<string> {
  const file = fileIdentity({ bucket: 'bench', eventTime: new Date().toISOString() });
  const batch = batchOfColumns(target.config.table, file, ['task', 'photo'], [['0'], ['1']]);
  await registerFile(sql, { ...manifestOf(batch, { batchCount: 0 }), read: ROWS * 0.9 }, 'bench');
  await sql.unsafe(`TRUNCATE ${target.snapshot!.scopes}, ${target.snapshot!.keys}`);
  const seq = await sql.begin((tx) => snapshotFileSeq(tx, batch));
  await sql.unsafe(`INSERT INTO ${target.snapshot!.keys} ("${SNAP_FILE}", task, photo) SELECT $1, task, photo FROM (${fileKeys}) k`, [seq]);
  await sql`INSERT INTO landfall.snapshot_batches (batch_id, file_id, keys, keyless, keys_relid) VALUES (${batch.batchId}, ${batch.fileId}, ${ROWS * 0.9}, 0, to_regclass(${target.snapshot!.keys})::oid)`;
  await sql.unsafe(`VACUUM ANALYZE ${target.snapshot!.keys}`);
  return batch.fileId;
}

async function removalScenarios(sql: postgres.Sql, all: TargetTable, perTask: TargetTable): Promise<Scenario[]> {
  await sql.unsafe(`DROP TABLE IF EXISTS bench_ref, bench_ref_keys`);
  await sql.unsafe(columns('bench_ref'));
  await sql.unsafe(`CREATE TABLE bench_ref_keys (task int NOT NULL, photo int NOT NULL)`);
  // The reference's keys are written afresh before each of its runs, as the removal's are (the
  // same work between runs, so both find the server's caches in the same state).
  const prepareReference = async () => {
    await reset(sql, 'bench_ref');
    await sql.unsafe('TRUNCATE bench_ref_keys');
    await sql.unsafe(`INSERT INTO bench_ref_keys ${fileKeys}`);
    await sql.unsafe('VACUUM ANALYZE bench_ref_keys');
  };
  let fileId = '';
  const expectRemoved = (removed: number) => {
    if (removed !== ROWS / 10) throw new Error(`removed ${removed} rows, expected ${ROWS / 10}`);
    return `${removed.toLocaleString('en')} rows removed`;
  };
  const plain = (scoped: boolean) => async () => {
    const result = await sql.begin((tx) =>
      tx.unsafe(
        scoped
          ? `DELETE FROM bench_ref AS t USING (SELECT DISTINCT task FROM bench_ref_keys) AS s WHERE t.task = s.task AND NOT EXISTS (SELECT 1 FROM bench_ref_keys AS k WHERE k.task = t.task AND k.photo = t.photo)`
          : `DELETE FROM bench_ref AS t WHERE NOT EXISTS (SELECT 1 FROM bench_ref_keys AS k WHERE k.task = t.task AND k.photo = t.photo)`,
      ),
    );
    return expectRemoved(result.count);
  };
  const removal = (target: TargetTable) => async () => {
    const outcome = await removeMissing(sql, target, fileId);
    if (outcome.state !== 'done') throw new Error(`the removal is ${outcome.state}${outcome.state === 'held' ? `: ${outcome.reason}` : ''}`);
    return expectRemoved(outcome.removed);
  };
  const prepareRemoval = (target: TargetTable) => async () => {
    await reset(sql, target.config.table);
    fileId = await fileDue(sql, target);
  };
  return [
    { name: S.plain, prepare: prepareReference, run: plain(false) },
    { name: S.removal, prepare: prepareRemoval(all), run: removal(all) },
    { name: S.plainTask, prepare: prepareReference, run: plain(true) },
    { name: S.removalTask, prepare: prepareRemoval(perTask), run: removal(perTask) },
  ];
}

async function batchScenarios(sql: postgres.Sql, snapshot: TargetTable, upsert: TargetTable): Promise<Scenario[]> {
  const values = (from: number, to: number) => [
    Array.from({ length: to - from }, (_, i) => String(Math.floor((from + i) / PER_TASK))),
    Array.from({ length: to - from }, (_, i) => String((from + i) % PER_TASK)),
    Array.from({ length: to - from }, (_, i) => `https://example.com/${from + i}`),
  ];
  const prefill = (target: TargetTable) => async () => {
    await sql.unsafe(`TRUNCATE ${target.config.table}`);
    await sql.unsafe(fill(target.config.table, BATCH_FILE_ROWS));
    await sql.unsafe(`TRUNCATE landfall.snapshot_batches`);
    if (target.snapshot) await sql.unsafe(`TRUNCATE ${target.snapshot.keys}, ${target.snapshot.scopes}`);
    await sql.unsafe(`VACUUM ANALYZE ${target.config.table}`);
  };
  const apply = (target: TargetTable) => async () => {
    const file = fileIdentity({ bucket: 'bench', key: `${target.config.table}/file-${Date.now()}.csv`, eventTime: new Date().toISOString() });
    let unchanged = 0;
    for (let from = 0, chunk = 0; from < BATCH_FILE_ROWS; from += BATCH, chunk++) {
      const batch = batchOfColumns(target.config.table, file, ['task', 'photo', 'url'], values(from, Math.min(from + BATCH, BATCH_FILE_ROWS)), { chunk, firstRow: from + 1 });
      unchanged += (await applyBatch(sql, target, batch)).counts.unchanged;
    }
    return `${unchanged.toLocaleString('en')} rows unchanged`;
  };
  return [
    { name: S.upsertBatches, prepare: prefill(upsert), run: apply(upsert) },
    { name: S.snapshotBatches, prepare: prefill(snapshot), run: apply(snapshot) },
  ];
}

async function main() {
  const { url, stop } = await benchDatabase();
  const sql = postgres(url, { max: 1, prepare: false, onnotice: () => {} });
  try {
    const [version] = await sql`SELECT current_setting('server_version') AS v`;
    console.log(`PostgreSQL ${version!.v}; a table of ${ROWS.toLocaleString('en')} rows, the file lacks 10%; batches: ${BATCH_FILE_ROWS.toLocaleString('en')} rows in batches of ${BATCH.toLocaleString('en')}; one connection, prepare: false; ${ROUNDS} interleaved rounds\n`);
    await migrateLedger(sql);
    const tables = ['bench_snap_all', 'bench_snap_task', 'bench_snap_batches', 'bench_upsert_batches'];
    await sql.unsafe(`DROP TABLE IF EXISTS ${tables.join(', ')}`);
    await sql.unsafe(`DELETE FROM landfall.snapshot_tables`);
    for (const t of tables) await sql.unsafe(columns(t));
    const config = parseConfig({
      tables: [
        { table: 'bench_snap_all', conflictKey: ['task', 'photo'], mode: 'snapshot', scope: [] },
        { table: 'bench_snap_task', conflictKey: ['task', 'photo'], mode: 'snapshot', scope: ['task'] },
        { table: 'bench_snap_batches', conflictKey: ['task', 'photo'], mode: 'snapshot', scope: ['task'] },
        { table: 'bench_upsert_batches', conflictKey: ['task', 'photo'] },
      ],
    });
    const [all, perTask, snapshotBatches, upsertBatches] = await Promise.all(config.tables.map((t) => prepareTable(sql, t)));
    // Two groups, each interleaved in its own rounds: the removals (rows/s of the table) and the batches (rows/s of the file).
    const results = await runRounds(await removalScenarios(sql, all!, perTask!), ROUNDS, ROWS);
    printTable(results, ROWS, S.plain, 'plain anti-join DELETE (rows/s: of the table)');
    const batchResults = await runRounds(await batchScenarios(sql, snapshotBatches!, upsertBatches!), ROUNDS, BATCH_FILE_ROWS);
    printTable(batchResults, BATCH_FILE_ROWS, S.upsertBatches, 'plain upsert batches (rows/s: of the file)');
    for (const [name, seconds] of batchResults.seconds) results.seconds.set(name, seconds);
    console.log(`\nremoval, whole table × plain anti-join DELETE: ${formatRatio(ratioOf(results, S.removal, S.plain))}`);
    console.log(`removal, one scope per parent × plain anti-join DELETE of the file's parents: ${formatRatio(ratioOf(results, S.removalTask, S.plainTask))}`);
    console.log(`batches of a snapshot file × batches into a plain upsert table (${BATCH_FILE_ROWS.toLocaleString('en')} unchanged rows): ${formatRatio(ratioOf(results, S.snapshotBatches, S.upsertBatches))}`);
    const r = (scenario: string, reference: string) => ratioOf(results, scenario, reference).median.toFixed(2);
    console.log(`snapshot: removal ${r(S.removal, S.plain)}x plain anti-join DELETE, per parent ${r(S.removalTask, S.plainTask)}x, batches ${r(S.snapshotBatches, S.upsertBatches)}x plain upsert batches`);
  } finally {
    await sql.end();
    await stop();
  }
}

await main();
