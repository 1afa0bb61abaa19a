/**
 * Writes the sample files `landfall dev` loads on first start (samples/inventory/*). Deterministic:
 * running it again gives the same bytes. `npx tsx scripts/make-samples.ts`
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

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

// 4. A child table replaced per parent (`"mode": "snapshot"`, scope ["task_pk"]): the full list of
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
