import { readCsvEvents as merged } from './shared/core/read/read-csv.ts';
import { readCsvEvents as b14 } from './shared/core/read/read-csv-14b.tmp.ts';
const statuses = ['new', 'paid', 'shipped', 'cancelled'];
let text = 'id,customer,amount,status,updated_at,note\n';
const blocks: string[] = [text];
for (let rows = 1; rows <= 600_000; rows++) {
  const note = rows % 97 === 0 ? '"a note, with a comma and ""quotes"""' : rows % 13 === 0 ? '' : 'plain note';
  blocks.push(`${rows},customer-${rows % 100_000},${(rows % 10_000) / 100},${statuses[rows % 4]},2026-01-${String((rows % 28) + 1).padStart(2, '0')}T12:00:00Z,${note}\n`);
}
const file = Buffer.from(blocks.join(''));
async function* chunks() { for (let i = 0; i < file.length; i += 1 << 20) yield file.subarray(i, i + (1 << 20)); }
async function run(reader: typeof merged) {
  const t = performance.now(); let n = 0;
  for await (const events of reader(chunks())) n += events.length;
  return { ms: performance.now() - t, n };
}
const res: Record<string, number[]> = { merged: [], b14: [] };
for (let r = 0; r < 6; r++) {
  for (const [name, reader] of [['b14', b14], ['merged', merged]] as const) res[name]!.push((await run(reader)).ms);
}
const mb = file.length / 1e6;
for (const [k, v] of Object.entries(res)) { v.sort((a, b) => a - b); console.log(k, 'median', (mb / (v[3]! / 1000)).toFixed(1), 'MB/s', v.map((x) => x.toFixed(0)).join(' ')); }
