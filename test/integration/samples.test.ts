import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { expect, test } from 'vitest';
import { devCommand, SAMPLE_FILES } from '../../cli/commands/dev.ts';
import { captureIo } from '../helpers/cli.ts';
import { createTestDatabase } from '../helpers/database.ts';

/**
 * What `npm start` loads on first start (`landfall dev` with the sample config): every sample
 * file, the inventory's and one per file shape of the format profiles, lands with its receipt.
 */
const db = await createTestDatabase();

test('npm start: every sample file loads, each shape as its table\'s format reads it', { timeout: 240_000 }, async () => {
  const io = captureIo({ LANDFALL_HOME: join(mkdtempSync(join(tmpdir(), 'landfall-samples-')), 'home') });

  const code = await devCommand({ databaseUrl: db.url, once: true, samples: true, json: true }, io);

  expect(code).toBe(0);
  const receipts = io
    .out()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { file: string; status: string; read: number; rejected: number; quarantined: number; addsUp: boolean });
  expect(receipts.map((r) => r.file)).toEqual(SAMPLE_FILES.map((f) => basename(f)));
  for (const r of receipts) expect({ file: r.file, status: r.status, addsUp: r.addsUp }).toEqual({ file: r.file, status: 'complete', addsUp: true });
  const shapes = receipts.slice(3, 12);
  expect(shapes.map((r) => [r.file, r.read, r.rejected, r.quarantined])).toEqual([
    ['2026-11-04-preise.csv', 120, 0, 0],
    ['2026-11-05.tsv', 100, 0, 0],
    ['2026-11-06-updates.json', 100, 0, 0],
    ['2026-11-07-utf16.csv', 100, 0, 0],
    ['2026-11-08.csv.zst', 100, 0, 0],
    ['2026-11-09.csv.bz2', 100, 0, 0],
    ['2026-11-10-dump.txt', 80, 0, 0],
    // The counter sample (merge rules; sample-visits.test.ts checks its values).
    ['2026-11-01-visits.csv', 4, 0, 0],
    ['2026-11-02-visits.csv', 4, 0, 0],
  ]);
  expect(await db.sql`SELECT sum(visits)::int AS visits FROM page_visits`).toEqual([{ visits: 18 }]);
  // The snapshot child table: the second file replaces the photos of tasks 103 and 107.
  expect(receipts.slice(12).map((r) => [r.file, r.read, (r as unknown as { removed: number }).removed])).toEqual([
    ['2026-11-01-task-photos.csv', 41, 0],
    ['2026-11-02-task-photos.csv', 8, 2],
  ]);
  const { sql } = db;
  expect(await sql`SELECT artikel, bezeichnung, preis::text, gueltig_ab::text FROM eu_prices WHERE artikel IN ('A-0010', 'A-0011') ORDER BY artikel`).toEqual([
    { artikel: 'A-0010', bezeichnung: 'Schraube; verzinkt – 10 mm', preis: '12345.99', gueltig_ab: '2026-11-11' },
    { artikel: 'A-0011', bezeichnung: 'Größe 11 – Müller & Söhne €', preis: '13580.49', gueltig_ab: '2026-11-12' },
  ]);
  expect(await sql`SELECT count(*)::int AS n FROM shipments`).toEqual([{ n: 400 }]);
  expect(await sql`SELECT id, name, email, export_path FROM legacy_customers WHERE id IN (9, 10, 11) ORDER BY id`).toEqual([
    { id: 9, name: 'O"Brien, 9', email: 'c9@example.com', export_path: 'C:\\exports\\9' },
    { id: 10, name: 'Customer 10', email: null, export_path: 'C:\\exports\\10' },
    { id: 11, name: 'Customer 11', email: null, export_path: 'C:\\exports\\11' },
  ]);
});
