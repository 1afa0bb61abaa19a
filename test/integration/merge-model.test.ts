import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, describe, expect, test } from 'vitest';
import { devClients, readDevState } from '../../cli/local.ts';
import { type BatchData, batchIdOf, countsAddUp, fileArrivalOf, fileIdOf } from '../../shared/core/batch.ts';
import { parseConfig } from '../../shared/core/config.ts';
import { fileReceipts } from '../../shared/postgres/ledger/files.ts';
import { applyBatch } from '../../shared/postgres/apply-batch.ts';
import { listQuarantine, retryQuarantine } from '../../shared/postgres/quarantine-retry.ts';
import { replayBatch } from '../../shared/postgres/replay-batch.ts';
import { prepareTable, type TargetTable } from '../../shared/postgres/target-table.ts';
import { type EmbeddedServer, findFreePort, startEmbeddedPostgres } from '../../shared/local/embedded-postgres.ts';
import { dropFile, tableForFile } from '../../shared/local/run-files.ts';
import { fileIdentity } from '../helpers/batches.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { tableConfig } from '../helpers/engine.ts';
import { applySet, centsText, cloneState, type ModelRow, type ModelState, replaySet, seeded } from '../helpers/merge-model.ts';
import { csvOf } from '../helpers/producer-files.ts';

// Exactly once, proven against a model (docs/rules.md, "Merge rules"): an accumulating table fed
// random deltas with duplicate keys inside and across batches, version ties, several partitions,
// redelivered, concurrent and replayed batches, quarantined rows retried after their fix (part
// one, through the engine, every step checked against the model), and `landfall dev` killed with
// SIGKILL mid-load plus a database restart (part two, end to end): the stored sums equal the
// model's exactly, and no delta is applied twice or lost.

const SEED = Number(process.env.MODEL_SEED ?? Math.floor(Math.random() * 1_000_000));
console.log(`merge model seed ${SEED} (repeat with MODEL_SEED=${SEED})`);

const MERGE = { first_tag: 'keep', note: 'ignoreNull', total: 'add', hits: 'add', peak: 'max', low: 'min' };
const COLUMNS = ['id', 'seq', 'label', 'first_tag', 'note', 'total', 'hits', 'peak', 'low', 'code'] as const;

/** Random rows of `files` files: keys from 0..keys-1 (repeats inside and across files), versions 1..4 (ties). */
function generate(random: () => number, files: number, rowsPerFile: number, keys: number, options: { negativeHits: boolean; poison: number }): ModelRow[][] {
  const pick = <T>(p: number, value: () => T): T | null => (random() < p ? null : value());
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  return Array.from({ length: files }, (_, file) =>
    Array.from({ length: rowsPerFile }, (_, i) => ({
      id: int(0, keys - 1),
      seq: int(1, 4),
      label: pick(0.1, () => `f${file}r${i + 1}`),
      firstTag: pick(0.6, () => `t${file}.${i + 1}`),
      note: pick(0.5, () => `n${file}.${i + 1}`),
      total: pick(0.1, () => BigInt(int(-5000, 10_000))),
      hits: pick(0.1, () => BigInt(options.negativeHits ? int(-4, 5) : int(0, 5))),
      peak: pick(0.2, () => int(0, 1000)),
      low: pick(0.2, () => int(0, 1000)),
      code: random() < options.poison ? 40_000 : 1,
      file,
      row: i + 1,
    })),
  );
}

const text = (r: ModelRow) => [String(r.id), String(r.seq), r.label, r.firstTag, r.note, r.total === null ? null : centsText(r.total), r.hits === null ? null : String(r.hits), r.peak === null ? null : String(r.peak), r.low === null ? null : String(r.low), r.code === null ? null : String(r.code)];

/** A file's batches as the producer cuts them: rows by partition (id mod partitions), in file order, `maxRows` a batch. */
function batchesOf(table: string, rows: ModelRow[], partitions: number, maxRows: number, fileIds: Map<string, number>): { batch: BatchData; rows: ModelRow[] }[] {
  const file = fileIdentity();
  const fileId = fileIdOf(file);
  fileIds.set(fileId, rows[0]!.file);
  const out: { batch: BatchData; rows: ModelRow[] }[] = [];
  for (let p = 0; p < partitions; p++) {
    const mine = rows.filter((r) => r.id % partitions === p);
    for (let chunk = 0; chunk * maxRows < mine.length; chunk++) {
      const part = mine.slice(chunk * maxRows, (chunk + 1) * maxRows);
      const values = COLUMNS.map((_, c) => part.map((r) => text(r)[c]!));
      out.push({
        rows: part,
        batch: { format: 1, batchId: batchIdOf(fileId, p, chunk), fileId, file, table, partition: p, chunk, arrival: fileArrivalOf(file), columns: [...COLUMNS], rowNumbers: part.map((r) => r.row), values },
      });
    }
  }
  return out;
}

function expectedTable(state: ModelState) {
  return [...state.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([id, s]) => ({ id, seq: s.seq, label: s.label, first_tag: s.firstTag, note: s.note, total: centsText(s.total), hits: String(s.hits), peak: s.peak, low: s.low, code: s.code }));
}

const databases = [await createTestDatabase(), await createTestDatabase()];

describe('the merge rules against a model, through the engine', () => {
  const variants = [
    // A value the column cannot hold (smallint) is screened by replay; the fix widens the column.
    { name: 'poison values screened', negativeHits: false, poison: 0.03, check: false },
    // A CHECK on an accumulating column: a batch fails when a counter would go negative; replay bisects in winner order.
    { name: 'a CHECK on a counter, bisected', negativeHits: true, poison: 0, check: true },
  ];
  test.each(variants)('$name: every step equals the model; sums exact; each delta once', async (variant) => {
    const { sql } = databases[variants.indexOf(variant)]!;
    const random = seeded(SEED + (variant.check ? 1 : 0));
    const table = 'acct';
    await sql.unsafe(`CREATE TABLE ${table} (id int PRIMARY KEY, seq int NOT NULL, label text, first_tag text, note text,
      total numeric(20,2) NOT NULL DEFAULT 0, hits bigint NOT NULL DEFAULT 0 ${variant.check ? 'CONSTRAINT acct_hits_check CHECK (hits >= 0)' : ''},
      peak int, low int, code smallint, _landfall_arrival text COLLATE "C")`);
    const config = { table, conflictKey: ['id'], version: 'seq', merge: MERGE };
    const { migrateLedger } = await import('../../shared/postgres/ledger/migrate.ts');
    await migrateLedger(sql);
    let target: TargetTable = await prepareTable(sql, tableConfig(config));

    const files = generate(random, 8, 60, 40, variant);
    const fileIds = new Map<string, number>();
    const batches = files.flatMap((rows) => batchesOf(table, rows, 3, 12, fileIds));
    const state: ModelState = new Map();
    const screened = (r: ModelRow) => r.code !== null && r.code > 32_767;
    const fails = (after: ModelState, rows: readonly ModelRow[]) => variant.check && rows.some((r) => (after.get(r.id)?.hits ?? 0n) < 0n);
    const quarantined: ModelRow[] = [];
    const applied = new Set<string>();
    const storedNow = async () =>
      (await sql.unsafe(`SELECT id, seq, label, first_tag, note, total::text AS total, hits::text AS hits, peak, low, code FROM ${table} ORDER BY id`)).map((r) => ({ ...r }));

    /** One delivery of a batch to the consumer: applied whole, or poisoned and replayed (the DLQ path); the model does the same. */
    async function deliver(entry: { batch: BatchData; rows: ModelRow[] }, how: 'once' | 'twice-at-once' | 'replay-only') {
      const first = !applied.has(entry.batch.batchId);
      const trial = cloneState(state);
      applySet(trial, entry.rows);
      const poisoned = entry.rows.some(screened) || fails(trial, entry.rows);
      if (how !== 'replay-only') {
        const attempts = how === 'twice-at-once' ? [applyBatch(sql, target, entry.batch), applyBatch(sql, target, entry.batch)] : [applyBatch(sql, target, entry.batch)];
        const results = await Promise.allSettled(attempts);
        if (!first) {
          for (const r of results) expect(r).toMatchObject({ status: 'fulfilled', value: { status: 'already-applied' } });
          return;
        }
        if (!poisoned) {
          const statuses = results.map((r) => (r.status === 'fulfilled' ? r.value.status : `rejected: ${String(r.reason)}`)).sort();
          expect(statuses).toEqual(how === 'twice-at-once' ? ['already-applied', 'applied'] : ['applied']);
          const counts = applySet(state, entry.rows);
          const stored = results.find((r) => r.status === 'fulfilled' && r.value.status === 'applied') as PromiseFulfilledResult<Awaited<ReturnType<typeof applyBatch>>>;
          expect(stored.value.counts).toMatchObject({ ...counts, deleted: 0, quarantined: 0 });
          applied.add(entry.batch.batchId);
          return;
        }
        for (const r of results) expect(r.status, 'a poisoned batch fails as a set').toBe('rejected');
      }
      const replayed = await replayBatch(sql, target, entry.batch);
      if (!first) {
        expect(replayed.status).toBe('already-applied');
        return;
      }
      const pinned = replaySet(state, entry.rows, screened, fails);
      quarantined.push(...pinned);
      expect(replayed.failures.map((f) => entry.batch.rowNumbers[f.row]).sort((a, b) => a! - b!)).toEqual(pinned.map((r) => r.row).sort((a, b) => a - b));
      expect(countsAddUp(replayed.counts)).toBe(true);
      expect(replayed.counts.read).toBe(entry.rows.length);
      applied.add(entry.batch.batchId);
    }

    // Deliver every batch in a random order (replay reorders a partition; files overlap), some
    // twice at once, some again later, some straight to replay; check the table after each.
    const order = [...batches].sort(() => random() - 0.5);
    const later: typeof batches = [];
    for (const entry of order) {
      const dice = random();
      await deliver(entry, dice < 0.15 ? 'twice-at-once' : dice < 0.25 ? 'replay-only' : 'once');
      if (dice > 0.85) later.push(entry);
      expect(await storedNow()).toEqual(expectedTable(state));
    }
    for (const entry of later) {
      await deliver(entry, random() < 0.5 ? 'once' : 'replay-only');
      expect(await storedNow()).toEqual(expectedTable(state));
    }
    expect(quarantined.length, 'the seed made no row fail: nothing to retry').toBeGreaterThan(0);

    // Fix the cause, then retry the quarantined rows one at a time in a random order, each twice.
    await sql.unsafe(variant.check ? `ALTER TABLE ${table} DROP CONSTRAINT acct_hits_check` : `ALTER TABLE ${table} ALTER COLUMN code TYPE int`);
    target = await prepareTable(sql, tableConfig(config));
    const open = await listQuarantine(sql, { table });
    expect(open).toHaveLength(quarantined.length);
    for (const q of open.sort(() => random() - 0.5)) {
      const row = quarantined.find((r) => r.file === fileIds.get(q.fileId) && r.row === q.rowNumber)!;
      expect(row, `quarantined row ${q.rowNumber} of ${q.fileKey} is one the model quarantined`).toBeDefined();
      expect(await retryQuarantine(sql, async () => target, [q])).toMatchObject({ applied: 1 });
      expect(await retryQuarantine(sql, async () => target, [q])).toMatchObject({ applied: 0, resolvedElsewhere: 1 });
      applySet(state, [row]);
      expect(await storedNow()).toEqual(expectedTable(state));
    }

    // Every delta once: the sums over the whole table equal the model's (and the generated rows').
    const all = files.flat();
    const [sums] = await sql.unsafe(`SELECT sum(total)::text AS total, sum(hits)::text AS hits FROM ${table}`);
    expect(sums).toEqual({ total: centsText(all.reduce((t, r) => t + (r.total ?? 0n), 0n)), hits: String(all.reduce((t, r) => t + (r.hits ?? 0n), 0n)) });
    expect((await sql`SELECT max(applications)::int AS most FROM landfall.batches`)[0]!.most).toBe(1);
  }, 300_000);
});

describe('the merge rules end to end: landfall dev killed with SIGKILL mid-load, the database restarted before it resumes', () => {
  const children: ChildProcess[] = [];
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : null)));
  });

  test('every file complete, every batch applied once, the counters equal the sums of all deltas exactly', async () => {
    const random = seeded(SEED + 2);
    const dir = mkdtempSync(join(tmpdir(), 'landfall-merge-model-'));
    chmodSync(dir, 0o755);
    const port = await findFreePort();
    let server: EmbeddedServer = await startEmbeddedPostgres({ dataDir: join(dir, 'pg'), persistent: true, port });
    afterAll(() => server.stop());
    let admin = postgres(server.url, { max: 1, onnotice: () => {} });
    afterAll(() => admin.end({ timeout: 2 }));
    await admin`CREATE TABLE counts (id int PRIMARY KEY, seq int NOT NULL, label text, total numeric(20,2) NOT NULL DEFAULT 0,
      hits bigint NOT NULL DEFAULT 0, peak int, low int, _landfall_arrival text COLLATE "C")`;
    const tableConfig = { table: 'counts', prefix: 'counts/', conflictKey: ['id'], version: 'seq', partitions: 3, merge: { total: 'add', hits: 'add', peak: 'max', low: 'min' } };
    const configPath = join(dir, 'landfall.json');
    writeFileSync(configPath, JSON.stringify({ tables: [tableConfig], batch: { maxRows: 40, maxBytes: 1024 * 1024 } }));
    const config = parseConfig({ tables: [tableConfig] });
    const home = join(dir, 'home');

    let out = '';
    const startDev = (): Promise<ChildProcess> => {
      const child = spawn(process.execPath, ['bin/landfall.js', 'dev', '--config', configPath, '--database-url', server.url], { env: { ...process.env, LANDFALL_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      return new Promise((resolve, reject) => {
        const timer = setInterval(() => {
          if (out.includes('Watching the inbox')) {
            clearInterval(timer);
            resolve(child);
          }
        }, 50);
        child.once('exit', (code) => {
          clearInterval(timer);
          reject(new Error(`landfall dev exited (${code}) before it watched the inbox:\n${out}`));
        });
      });
    };
    const until = async <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const value = await probe().catch(() => undefined);
        if (value !== undefined) return value;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const appliedBatches = async () => (await admin`SELECT count(*)::int AS n FROM landfall.batches WHERE status = 'applied'`)[0]!.n;

    const files = generate(random, 6, 300, 150, { negativeHits: false, poison: 0 });
    const paths = files.map((rows, f) => {
      const path = join(dir, `counts-${f}.csv`);
      writeFileSync(path, csvOf(rows.map((r) => ({ id: r.id, seq: r.seq, label: r.label, total: r.total === null ? null : centsText(r.total), hits: r.hits === null ? null : String(r.hits), peak: r.peak, low: r.low }))));
      return path;
    });
    const drop = async (path: string) => {
      const state = readDevState(home)!;
      await dropFile({ ...(await devClients(state)), sql: admin, config, buckets: state.buckets }, path, tableForFile(config, path));
    };

    // Kill the first dev with SIGKILL once some batches are applied and files are still coming.
    const first = await startDev();
    for (const path of paths.slice(0, 3)) await drop(path);
    await until('a batch applied', async () => ((await appliedBatches()) > 0 ? true : undefined), 120_000);
    await drop(paths[3]!);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const completeAtKill = (await fileReceipts(admin)).filter((r) => r.status === 'complete').length;
    expect(completeAtKill, 'the kill came after the load had finished').toBeLessThan(4);

    // Restart the database before the second dev resumes (a restart under load, whose failed
    // batches come back after the queue's visibility timeout, is the chaos test's part).
    const atKill = await appliedBatches();
    await admin.end({ timeout: 2 });
    await server.stop();
    server = await startEmbeddedPostgres({ dataDir: join(dir, 'pg'), persistent: true, port });
    admin = postgres(server.url, { max: 1, onnotice: () => {} });
    await startDev();
    for (const path of paths.slice(4)) await drop(path);

    const receipts = await until(
      'every file complete',
      async () => {
        const all = await fileReceipts(admin);
        return all.length === files.length && all.every((r) => r.status === 'complete') ? all : undefined;
      },
      240_000,
    ).catch(async (error: unknown) => {
      const seen = await fileReceipts(admin).catch(() => []);
      throw new Error(`${(error as Error).message}; files: ${JSON.stringify(seen.map((r) => [r.file, r.status]))}\nlandfall dev said:\n${out}`);
    });
    console.log(`merge model end to end: ${completeAtKill} of 4 files and ${atKill} batches complete at the kill`);

    for (const r of receipts) {
      expect(r.read).toBe(300);
      expect(r.read).toBe(r.rejected + r.collapsed + r.inserted + r.updated + r.unchanged + r.stale + r.deleted + r.quarantined);
    }
    expect((await admin`SELECT max(applications)::int AS most FROM landfall.batches`)[0]!.most).toBe(1);
    // The oracle: every delta once, the high and low marks over every row, the label of the
    // greatest (seq, file, row): none of it depends on the order the batches were applied in.
    const all = files.flat();
    const oracle = new Map<number, { total: bigint; hits: bigint; peak: number | null; low: number | null; winner: ModelRow }>();
    for (const r of all) {
      const o = oracle.get(r.id) ?? { total: 0n, hits: 0n, peak: null, low: null, winner: r };
      o.total += r.total ?? 0n;
      o.hits += r.hits ?? 0n;
      if (r.peak !== null) o.peak = o.peak === null ? r.peak : Math.max(o.peak, r.peak);
      if (r.low !== null) o.low = o.low === null ? r.low : Math.min(o.low, r.low);
      if (r.seq > o.winner.seq || (r.seq === o.winner.seq && (r.file > o.winner.file || (r.file === o.winner.file && r.row >= o.winner.row)))) o.winner = r;
      oracle.set(r.id, o);
    }
    const stored = await admin<{ id: number; seq: number; label: string | null; total: string; hits: string; peak: number | null; low: number | null }[]>`
      SELECT id, seq, label, total::text AS total, hits::text AS hits, peak, low FROM counts ORDER BY id`;
    const expected = [...oracle.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([id, o]) => ({ id, seq: o.winner.seq, label: o.winner.label, total: centsText(o.total), hits: String(o.hits), peak: o.peak, low: o.low }));
    expect(stored.map((r) => ({ ...r }))).toEqual(expected);
  }, 420_000);
});
