import { describe, expect, test } from 'vitest';
import { countsAddUp } from '../../shared/core/batch.ts';
import { TableConfigError } from '../../shared/core/conflict-key.ts';
import { applyBatch } from '../../shared/postgres/apply-batch.ts';
import { listQuarantine, retryQuarantine } from '../../shared/postgres/quarantine-retry.ts';
import { replayBatch } from '../../shared/postgres/replay-batch.ts';
import { inspectTable } from '../../shared/tools/doctor/inspect-table.ts';
import { preflightTables, blockingReports } from '../../shared/tools/doctor/preflight.ts';
import { parseConfig } from '../../shared/core/config.ts';
import { makeBatch } from '../helpers/batches.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { prepare } from '../helpers/engine.ts';

const { sql } = await createTestDatabase();

const row = (id: number, day: string, region: string, qty: number, v: number) => ({ id: String(id), day, region, qty: String(qty), v: String(v) });

/** Each shape of partitioning PostgreSQL has, on the same columns (id, day, region, qty, v). */
const SHAPES: { label: string; create: (t: string) => string[] }[] = [
  {
    label: 'range',
    create: (t) => [
      `CREATE TABLE ${t} (id int, day date, region text, qty int, v int NOT NULL, PRIMARY KEY (id, day)) PARTITION BY RANGE (day)`,
      `CREATE TABLE ${t}_jan PARTITION OF ${t} FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')`,
      `CREATE TABLE ${t}_feb PARTITION OF ${t} FOR VALUES FROM ('2026-02-01') TO ('2026-03-01')`,
    ],
  },
  {
    label: 'list',
    create: (t) => [
      `CREATE TABLE ${t} (id int, day date, region text, qty int, v int NOT NULL, PRIMARY KEY (id, day, region)) PARTITION BY LIST (region)`,
      `CREATE TABLE ${t}_eu PARTITION OF ${t} FOR VALUES IN ('eu')`,
      `CREATE TABLE ${t}_us PARTITION OF ${t} FOR VALUES IN ('us', 'ca')`,
    ],
  },
  {
    label: 'hash',
    create: (t) => [
      `CREATE TABLE ${t} (id int, day date, region text, qty int, v int NOT NULL, PRIMARY KEY (id, day)) PARTITION BY HASH (id)`,
      ...[0, 1, 2].map((r) => `CREATE TABLE ${t}_h${r} PARTITION OF ${t} FOR VALUES WITH (MODULUS 3, REMAINDER ${r})`),
    ],
  },
  {
    label: 'two levels (range, then list) with default partitions',
    create: (t) => [
      `CREATE TABLE ${t} (id int, day date, region text, qty int, v int NOT NULL, PRIMARY KEY (id, day, region)) PARTITION BY RANGE (day)`,
      `CREATE TABLE ${t}_jan PARTITION OF ${t} FOR VALUES FROM ('2026-01-01') TO ('2026-02-01') PARTITION BY LIST (region)`,
      `CREATE TABLE ${t}_jan_eu PARTITION OF ${t}_jan FOR VALUES IN ('eu')`,
      `CREATE TABLE ${t}_jan_rest PARTITION OF ${t}_jan DEFAULT`,
      `CREATE TABLE ${t}_rest PARTITION OF ${t} DEFAULT`,
    ],
  },
];

const keyOf = (label: string) => (label === 'range' || label === 'hash' ? ['id', 'day'] : ['id', 'day', 'region']);

describe('partitioned targets work like any table', () => {
  test.each(SHAPES.map((s, i) => ({ ...s, table: `parts_${i}` })))('$label: COPY for the first file, exact counts for the next, rows in their partitions', async ({ label, create, table }) => {
    for (const statement of create(table)) await sql.unsafe(statement);
    const target = await prepare(sql, { table, conflictKey: keyOf(label), version: 'v' });
    const first = [row(1, '2026-01-05', 'eu', 1, 1), row(2, '2026-02-05', 'us', 2, 1), row(3, '2026-01-06', 'ca', 3, 1), row(4, '2026-02-07', 'eu', 4, 1)];

    const copied = await applyBatch(sql, target, makeBatch({ table, rows: first }));
    const second = await applyBatch(sql, target, makeBatch({
      table,
      rows: [
        row(1, '2026-01-05', 'eu', 10, 2), // updated
        row(2, '2026-02-05', 'us', 2, 1), // unchanged
        row(3, '2026-01-06', 'ca', 30, 0), // stale
        row(5, '2026-02-08', 'us', 5, 1), // inserted
        row(5, '2026-02-08', 'us', 6, 1), // inserted (the row above collapsed)
      ],
    }));

    expect(copied).toMatchObject({ path: 'copy', counts: { read: 4, inserted: 4 } });
    expect(second).toMatchObject({ path: 'upsert', counts: { read: 5, collapsed: 1, inserted: 1, updated: 1, unchanged: 1, stale: 1, deleted: 0, quarantined: 0 } });
    const stored = await sql.unsafe(`SELECT id, qty, tableoid::regclass::text AS part FROM ${table} ORDER BY id`);
    expect(stored.map((r) => [r.id, r.qty])).toEqual([[1, 10], [2, 2], [3, 3], [4, 4], [5, 6]]);
    expect(stored.every((r) => r.part !== table)).toBe(true);
  });

  test('a partition attached after start-up takes its rows; a row no partition takes is quarantined with the reason, the rest applies, and retry applies it once a partition exists', async () => {
    await sql.unsafe(`CREATE TABLE late (id int, day date, qty int, v int NOT NULL, PRIMARY KEY (id, day)) PARTITION BY RANGE (day)`);
    await sql.unsafe(`CREATE TABLE late_jan PARTITION OF late FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')`);
    const target = await prepare(sql, { table: 'late', conflictKey: ['id', 'day'], version: 'v' });
    await sql.unsafe(`CREATE TABLE late_feb (LIKE late INCLUDING ALL)`);
    await sql.unsafe(`ALTER TABLE late ATTACH PARTITION late_feb FOR VALUES FROM ('2026-02-01') TO ('2026-03-01')`);
    const rows = [{ id: '1', day: '2026-01-01', qty: '1', v: '1' }, { id: '2', day: '2026-02-01', qty: '2', v: '1' }, { id: '3', day: '2026-03-01', qty: '3', v: '1' }, { id: '4', day: '2026-01-04', qty: 'x', v: '1' }];
    const batch = makeBatch({ table: 'late', rows });

    // The consumer's statement fails on the data (the batch goes to the DLQ); replay isolates the rows.
    const failed = (await applyBatch(sql, target, batch).catch((e: unknown) => e)) as { code?: string };
    expect(['22P02', '23514']).toContain(failed.code);
    const replayed = await replayBatch(sql, target, batch);

    expect(replayed.counts).toMatchObject({ read: 4, inserted: 2, quarantined: 2 });
    expect(countsAddUp(replayed.counts)).toBe(true);
    expect(replayed.failures.map((f) => [f.row, f.sqlstate, f.column])).toEqual([[2, '23514', 'day'], [3, '22P02', 'qty']]);
    expect(replayed.failures[0]!.message).toMatch(/^no partition of relation "late" found for row \(partition key: day\)\. Fix: create a partition/);
    expect(replayed.failures[0]!.message).not.toContain('2026-03-01');
    const placed = await sql.unsafe(`SELECT id, tableoid::regclass::text AS part FROM late ORDER BY id`);
    expect(placed.map((r) => [r.id, r.part])).toEqual([[1, 'late_jan'], [2, 'late_feb']]);

    await sql.unsafe(`CREATE TABLE late_mar PARTITION OF late FOR VALUES FROM ('2026-03-01') TO ('2026-04-01')`);
    const retried = await retryQuarantine(sql, async () => target, (await listQuarantine(sql, { table: 'late' })).filter((q) => q.sqlstate === '23514'));

    expect(retried).toEqual({ applied: 1, stillFailing: 0, resolvedElsewhere: 0 });
    const [moved] = await sql`SELECT tableoid::regclass::text AS part FROM late WHERE id = 3`;
    expect(moved!.part).toBe('late_mar');
  });

  test('replay bisects a batch on a partitioned table down to its bad rows', async () => {
    await sql.unsafe(`CREATE TABLE bis (id int, day date, qty int CHECK (qty >= 0), v int NOT NULL, PRIMARY KEY (id, day)) PARTITION BY HASH (id)`);
    for (const r of [0, 1]) await sql.unsafe(`CREATE TABLE bis_${r} PARTITION OF bis FOR VALUES WITH (MODULUS 2, REMAINDER ${r})`);
    const target = await prepare(sql, { table: 'bis', conflictKey: ['id', 'day'], version: 'v' });
    const rows = Array.from({ length: 64 }, (_, i) => ({ id: String(i), day: '2026-01-01', qty: String(i === 17 || i === 40 ? -1 : i), v: '1' }));

    const replayed = await replayBatch(sql, target, makeBatch({ table: 'bis', rows }));

    expect(replayed.failures.map((f) => [f.row, f.sqlstate])).toEqual([[17, '23514'], [40, '23514']]);
    expect(replayed.counts).toMatchObject({ read: 64, inserted: 62, quarantined: 2 });
  });
});

describe('start-up and doctor know partitioned tables', () => {
  test('a conflict key without the partition key column is refused at start-up, naming the fix', async () => {
    await sql.unsafe(`CREATE TABLE nokey (id int, day date, v int NOT NULL, PRIMARY KEY (id, day)) PARTITION BY RANGE (day)`);

    const refused = await prepare(sql, { table: 'nokey', conflictKey: ['id'], version: 'v' }).catch((e: unknown) => e);

    expect(refused).toBeInstanceOf(TableConfigError);
    expect((refused as TableConfigError).reason).toMatch(/lacks the partition key column\(s\) "day" of the partitioned table public\.nokey: PostgreSQL only accepts a unique index on a partitioned table that includes every partition key column/);
    expect((refused as TableConfigError).fix).toBe('add "day" to "conflictKey" (the files must carry it): "conflictKey": ["id","day"] (the unique index "nokey_pkey" matches it)');
    const reports = await preflightTables(sql, parseConfig({ tables: [{ table: 'nokey', conflictKey: ['id'], version: 'v' }] }));
    expect(blockingReports(reports).map((r) => r.table)).toEqual(['nokey']);
  });

  test('a table partitioned by an expression is refused: no unique index can exist on it', async () => {
    await sql.unsafe(`CREATE TABLE byexpr (id int, ts timestamptz, v int NOT NULL) PARTITION BY LIST ((id % 2))`);

    const refused = await prepare(sql, { table: 'byexpr', conflictKey: ['id', 'ts'], version: 'v' }).catch((e: unknown) => e);

    expect((refused as TableConfigError).reason).toMatch(/partitioned by an expression/);
  });

  test('a key with the partition column but no index: the fix builds it without CONCURRENTLY (PostgreSQL cannot on a partitioned table), and it works', async () => {
    await sql.unsafe(`CREATE TABLE noindex (id int NOT NULL, day date NOT NULL, v int NOT NULL) PARTITION BY RANGE (day)`);
    await sql.unsafe(`CREATE TABLE noindex_jan PARTITION OF noindex FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')`);

    const report = await inspectTable(sql, { table: 'noindex', key: ['id', 'day'], version: 'v', mode: 'upsert', arrivalColumn: '_landfall_arrival' });
    const index = report.checks.find((c) => c.check === 'unique index')!;
    expect(index.severity).toBe('error');
    const create = index.fix.find((f) => f.startsWith('CREATE UNIQUE INDEX'))!;
    expect(create).not.toContain('CONCURRENTLY');
    await sql.unsafe(create);
    await expect(prepare(sql, { table: 'noindex', conflictKey: ['id', 'day'], version: 'v' })).resolves.toBeTruthy();
  });

  test('doctor lists the partitions and warns about a default partition holding rows, with a fix that moves them', async () => {
    await sql.unsafe(`CREATE TABLE withdef (id int, day date, v int NOT NULL, PRIMARY KEY (id, day)) PARTITION BY RANGE (day)`);
    await sql.unsafe(`CREATE TABLE withdef_jan PARTITION OF withdef FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')`);
    await sql.unsafe(`CREATE TABLE withdef_other PARTITION OF withdef DEFAULT`);
    await sql`INSERT INTO withdef VALUES (1, '2026-01-02', 1), (2, '2026-03-04', 1), (3, '2026-03-09', 1)`;

    const report = await inspectTable(sql, { table: 'withdef', key: ['id', 'day'], version: 'v', mode: 'upsert', arrivalColumn: '_landfall_arrival' });

    const partitions = report.checks.find((c) => c.check === 'partitions')!;
    expect(partitions.message).toBe(`partitioned: range on (day); 2 partition(s): withdef_jan FOR VALUES FROM ('2026-01-01') TO ('2026-02-01'); withdef_other DEFAULT`);
    const def = report.checks.find((c) => c.check === 'default partition')!;
    expect(def.severity).toBe('warning');
    expect(def.message).toMatch(/^withdef_other holds 2 row\(s\) \(day from 2026-03-04 to 2026-03-09\) that no other partition of withdef takes: a partition for those values cannot be added/);

    // The fix, filled in, works: the rows move and the new partition exists.
    const filled = def.fix.filter((f) => !f.startsWith('--') && f !== 'BEGIN;' && f !== 'COMMIT;').join('\n').replaceAll('<new partition>', 'withdef_mar').replaceAll('<from>', `'2026-03-01'`).replaceAll('<to>', `'2026-04-01'`);
    expect(def.fix).toContain('BEGIN;');
    await sql.begin((tx) => tx.unsafe(filled));
    const placed = await sql`SELECT id, tableoid::regclass::text AS part FROM withdef ORDER BY id`;
    expect(placed.map((r) => r.part)).toEqual(['withdef_jan', 'withdef_mar', 'withdef_mar']);
  });
});
