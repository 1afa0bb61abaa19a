/**
 * Writes the sample files `landfall dev` loads on first start (samples/inventory/*). Deterministic:
 * running it again gives the same bytes. `npx tsx scripts/make-samples.ts`
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { constants as zlibConstants, gzipSync, zstdCompressSync } from 'node:zlib';

const dir = new URL('../samples/inventory/', import.meta.url);
mkdirSync(dir, { recursive: true });

let seed = 42;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
const colors = ['red', 'green', 'blue', 'black', 'white'] as const;
const at = (day: number, second: number) => new Date(Date.UTC(2026, 10, day, 8, 0, second)).toISOString();
const csvField = (v: string) => (/[",\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);

// 1. A full load: 3,000 rows for 2,600 keys; 400 keys appear twice, the later row newer.
const full = ['tenant_id,sku,name,qty,price,attrs,updated_at'];
for (let i = 0; i < 3000; i++) {
  const k = i < 2600 ? i : Math.floor(random() * 2600);
  const attrs = JSON.stringify({ color: pick(colors), size: k % 5 });
  full.push([String(k % 7), `SKU-${String(k).padStart(5, '0')}`, csvField(`Item ${k}, "${pick(colors)}"`), String(k % 100), (k % 500 + 0.99).toFixed(2), csvField(attrs), at(1, i)].join(','));
}
writeFileSync(new URL('2026-11-01-full.csv', dir), `${full.join('\r\n')}\r\n`);

// 2. Updates as gzipped NDJSON: 500 newer rows, 50 older ones (stale), 20 deletes.
const updates: string[] = [];
for (let i = 0; i < 570; i++) {
  const k = Math.floor(random() * 2600);
  const row = { tenant_id: k % 7, sku: `SKU-${String(k).padStart(5, '0')}`, name: `Item ${k} (updated)`, qty: (k * 7) % 100, price: (k % 500) + 1.49, attrs: { color: pick(colors), size: k % 5, restocked: true }, updated_at: at(2, i), _op: null as string | null };
  if (i >= 500 && i < 550) row.updated_at = at(0, i);
  if (i >= 550) row._op = 'D';
  updates.push(JSON.stringify(row));
}
writeFileSync(new URL('2026-11-02-updates.ndjson.gz', dir), gzipSync(`${updates.join('\n')}\n`, { level: 9 }));

// 3. New items with bad rows: a bad date, a bad number, a negative quantity (CHECK), and a line
//    with the wrong number of fields (rejected by the producer before the database sees it).
const bad = ['tenant_id,sku,name,qty,price,attrs,updated_at'];
for (let i = 0; i < 200; i++) {
  const k = 3000 + i;
  let updated = at(3, i);
  let qty = String(i % 50);
  let price = '9.99';
  if (i === 17) updated = '2026-11-31T08:00:00Z';
  if (i === 42) price = 'nine';
  if (i === 99) qty = '-5';
  const line = [String(k % 7), `SKU-${k}`, `New item ${k}`, qty, price, '{}', updated].join(',');
  bad.push(i === 150 ? `${k % 7},SKU-${k},broken line` : line);
}
writeFileSync(new URL('2026-11-03-new-with-bad-rows.csv', dir), `${bad.join('\n')}\n`);

// ---------------------------------------------------------------------------------------------
// Samples of the file shapes a table's "format" profile reads (issue 20), one table each kind.

/** Windows-1252 bytes of a text whose characters are all in it. */
const CP1252: Record<string, number> = { '€': 0x80, '„': 0x84, '“': 0x93, '”': 0x94, '–': 0x96 };
const cp1252 = (text: string) => Buffer.from([...text].map((c) => CP1252[c] ?? c.charCodeAt(0)));

// 4. A European Excel export (table eu_prices: "delimiter": ";", Windows-1252, decimal commas,
//    thousands points, DD.MM.YYYY dates): semicolons, CRLF, a quoted name with a semicolon.
const euDir = new URL('../samples/eu_prices/', import.meta.url);
mkdirSync(euDir, { recursive: true });
const euLines = ['artikel;bezeichnung;preis;gueltig_ab'];
for (let i = 1; i <= 120; i++) {
  const price = (i * 1234.5 + 0.99).toFixed(2).replace('.', ',').replace(/\B(?=(\d{3})+(?!\d))/, '.');
  const name = i % 10 === 0 ? `"Schraube; verzinkt – ${i} mm"` : `Größe ${i} – Müller & Söhne €`;
  euLines.push([`A-${String(i).padStart(4, '0')}`, name, price, `${String((i % 28) + 1).padStart(2, '0')}.11.2026`].join(';'));
}
writeFileSync(new URL('2026-11-04-preise.csv', euDir), cp1252(`${euLines.join('\r\n')}\r\n`));

// 5. Shipments in every other shape (table shipments, default profile: the delimiter and the
//    encoding found by themselves): TSV, a JSON array whose objects omit keys, UTF-16 with a BOM,
//    zstd and bzip2.
const shipDir = new URL('../samples/shipments/', import.meta.url);
mkdirSync(shipDir, { recursive: true });
const shipment = (i: number) => ({ id: i, carrier: pick(['DHL', 'UPS', 'La Poste', 'Correos']), weight_kg: (i % 40) + 0.5, shipped_at: at(5, i), note: i % 7 === 0 ? 'fragile, "handle with care"' : null });
const shipCsv = (from: number, d: string) => {
  const lines = [['id', 'carrier', 'weight_kg', 'shipped_at', 'note'].join(d)];
  for (let i = from; i < from + 100; i++) {
    const s = shipment(i);
    lines.push([s.id, s.carrier, s.weight_kg, s.shipped_at, s.note === null ? '' : `"${s.note.replaceAll('"', '""')}"`].join(d));
  }
  return `${lines.join('\n')}\n`;
};
writeFileSync(new URL('2026-11-05.tsv', shipDir), shipCsv(1, '\t'));
// Objects that omit keys: note only where there is one, weight only on even ids (the others keep theirs).
const updates5 = Array.from({ length: 100 }, (_, k) => {
  const s = shipment(k + 1);
  return { id: s.id, carrier: s.carrier, ...(s.id % 2 === 0 ? { weight_kg: s.weight_kg + 1 } : {}), shipped_at: s.shipped_at, ...(s.note ? { note: `${s.note} (checked)` } : {}) };
});
writeFileSync(new URL('2026-11-06-updates.json', shipDir), `${JSON.stringify(updates5, null, 2)}\n`);
writeFileSync(new URL('2026-11-07-utf16.csv', shipDir), Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(shipCsv(101, ',').replaceAll('La Poste', 'Poste Suisse – Zürich'), 'utf16le')]));
writeFileSync(new URL('2026-11-08.csv.zst', shipDir), zstdCompressSync(shipCsv(201, ','), { params: { [zlibConstants.ZSTD_c_compressionLevel]: 19 } }));
// bzip2 has no compressor in Node: the bzip2 command writes it (Debian's bzip2 package).
writeFileSync(new URL('2026-11-09.csv.bz2', shipDir), execFileSync('bzip2', ['-9', '-c'], { input: shipCsv(301, ',') }));

// 6. A MySQL dump without a header line (table legacy_customers: "header": false with "fields",
//    backslash escaping, \N for NULL, the "NULL" text as NULL too).
const legacyDir = new URL('../samples/legacy_customers/', import.meta.url);
mkdirSync(legacyDir, { recursive: true });
const legacy: string[] = [];
for (let i = 1; i <= 80; i++) {
  const name = i % 9 === 0 ? `"O\\"Brien, ${i}"` : `"Customer ${i}"`;
  const email = i % 5 === 0 ? '\\N' : i % 11 === 0 ? 'NULL' : `"c${i}@example.com"`;
  legacy.push([i, name, email, `"C:\\\\exports\\\\${i}"`].join(','));
}
writeFileSync(new URL('2026-11-10-dump.txt', legacyDir), `${legacy.join('\n')}\n`);

// 7. A child table replaced per parent (`"mode": "snapshot"`, scope ["task_pk"]): the full list of
//    each task's photos, as a task-management system exports it whenever a task changes. The
//    second file names tasks 103 and 107 only: 103 loses photo 2 and gains photo 5, 107 loses
//    photo 3; every other task's photos stay as they are.
const photosDir = new URL('../samples/task_photos/', import.meta.url);
mkdirSync(photosDir, { recursive: true });
const photoLine = (task: number, photo: number, caption: string, day: number) =>
  [String(task), String(photo), `https://photos.example.com/tasks/${task}/${photo}.jpg`, csvField(caption), at(day, task % 60)].join(',');
const photosHeader = 'task_pk,photo_id,url,caption,taken_at';
const allPhotos = [photosHeader];
for (let task = 101; task <= 110; task++) for (let photo = 1; photo <= 3 + (task % 3); photo++) allPhotos.push(photoLine(task, photo, `Task ${task}, photo ${photo}`, 1));
writeFileSync(new URL('2026-11-01-task-photos.csv', photosDir), `${allPhotos.join('\n')}\n`);
const replaced = [photosHeader];
for (const photo of [1, 3, 4]) replaced.push(photoLine(103, photo, `Task 103, photo ${photo}`, 1));
replaced.push(photoLine(103, 5, 'Task 103, photo 5 (after the repair)', 2));
for (const photo of [1, 2, 4, 5]) replaced.push(photoLine(107, photo, `Task 107, photo ${photo}`, 1));
writeFileSync(new URL('2026-11-02-task-photos.csv', photosDir), `${replaced.join('\n')}\n`);
