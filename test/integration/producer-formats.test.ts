import { execFileSync } from 'node:child_process';
import { zstdCompressSync } from 'node:zlib';
import { beforeEach, describe, expect, test } from 'vitest';
import type { FileManifest } from '../../shared/core/batch-message.ts';
import type { ContinuationMessage } from '../../shared/core/progress.ts';
import { decodeBatch } from '../../shared/producer/batch-object.ts';
import { processIntakeMessage } from '../../shared/producer/intake.ts';
import type { ProduceOutcome, ProducerDeps } from '../../shared/producer/produce-file.ts';
import { catalogSnapshot } from '../helpers/catalog-factory.ts';
import { INBOX, STAGING, startProducerEmulator } from '../helpers/producer-emulator.ts';
import { gzipOf, producerConfigFactory } from '../helpers/producer-files.ts';
import { s3EventBody } from '../helpers/s3-event.ts';

/**
 * The producer reads every shape of issue 20 with the guarantees of item 4: every line counted,
 * continuation resumes at the right byte (multi-byte encodings, JSON arrays, compressed files),
 * the same batches and ids on a retry, and refusals that name the format option to set.
 */
const emulator = await startProducerEmulator();
const ITEMS = catalogSnapshot('items', { id: 'int8', name: 'text', amount: 'numeric', day: 'date' }, ['id']);
const configOf = (format: object, table = 'items') => producerConfigFactory({ tables: [{ table, conflictKey: ['id'], partitions: 3, format }], batch: { maxRows: 25 } });

beforeEach(async () => {
  emulator.reset();
  await emulator.publishSnapshot(ITEMS);
});

let dropped = 0;
async function produce(name: string, body: string | Uint8Array, format: object, continued = false): Promise<{ outcome: ProduceOutcome; invocations: number }> {
  const record = await emulator.drop(`items/f${++dropped}-${name}`, body);
  const sent: ContinuationMessage[] = [];
  const deps: ProducerDeps = {
    ...emulator.deps(configOf(format)),
    ...(continued ? { limits: { segmentBytes: 700, maxInvocationMs: 0 }, continuations: { send: async (m) => void sent.push(m) } } : {}),
  };
  let [outcome] = await processIntakeMessage(deps, s3EventBody(record));
  let invocations = 1;
  while (outcome!.status === 'continued') {
    [outcome] = await processIntakeMessage(deps, JSON.stringify(sent.at(-1)));
    invocations++;
  }
  return { outcome: outcome!, invocations };
}
const manifestOf = (outcome: ProduceOutcome): FileManifest => (outcome.status === 'produced' ? outcome.manifest : expect.fail(`outcome ${outcome.status}: ${JSON.stringify(outcome)}`));
/** Every row of a manifest's batches, by row number: column → value. */
async function rowsOf(manifest: FileManifest) {
  const rows = new Map<number, Record<string, string | null>>();
  for (const b of manifest.batches) {
    const batch = await decodeBatch(await emulator.getBytes(STAGING, b.stagingKey));
    batch.rowNumbers.forEach((n, r) => rows.set(n, Object.fromEntries(batch.columns.map((c, i) => [c, batch.values[i]![r]!]))));
  }
  return [...rows.entries()].sort((a, b) => a[0] - b[0]);
}
async function reasonOf(name: string) {
  const keys = await emulator.list(INBOX, 'rejected/');
  const key = keys.find((k) => k.includes(name) && k.endsWith('.reason.json'))!;
  return JSON.parse((await emulator.getBytes(INBOX, key)).toString('utf8')) as { code: string; message: string };
}

const ROWS = Array.from({ length: 120 }, (_, i) => ({ id: String(i + 1), name: `Müller ${i} — “€”`, amount: `${i}.5`, day: `2026-01-${String((i % 28) + 1).padStart(2, '0')}` }));
const line = (r: (typeof ROWS)[number], d: string) => [r.id, r.name, r.amount, r.day].join(d);
const eu = (r: (typeof ROWS)[number]) => [r.id, r.name, r.amount.replace('.', ','), `${r.day.slice(8)}.${r.day.slice(5, 7)}.${r.day.slice(0, 4)}`].join(';');
const CP1252: Record<string, number> = { '€': 0x80, '—': 0x97, '“': 0x93, '”': 0x94 };
const cp1252 = (text: string) => Buffer.from([...text].map((c) => CP1252[c] ?? c.charCodeAt(0)));
const bzip2 = (bytes: Uint8Array) => execFileSync('bzip2', ['-c'], { input: bytes });

const shapes: { name: string; format: object; body: () => Buffer | string }[] = [
  { name: 'eu.csv', format: { delimiter: ';', encoding: 'windows-1252', decimal: ',', dates: { day: 'DD.MM.YYYY' } }, body: () => cp1252(`id;name;amount;day\r\n${ROWS.map(eu).join('\r\n')}\r\n`) },
  { name: 'auto.csv', format: { encoding: 'windows-1252', decimal: ',', dates: { day: 'DD.MM.YYYY' } }, body: () => cp1252(`id;name;amount;day\r\n${ROWS.map(eu).join('\r\n')}\r\n`) },
  { name: 'a.tsv', format: {}, body: () => `id\tname\tamount\tday\n${ROWS.map((r) => line(r, '\t')).join('\n')}\n` },
  { name: 'utf16.csv', format: {}, body: () => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`id,name,amount,day\r\n${ROWS.map((r) => line(r, ',')).join('\r\n')}\r\n`, 'utf16le')]) },
  { name: 'utf16be.txt', format: { encoding: 'utf-16be', delimiter: '|' }, body: () => Buffer.from(`id|name|amount|day\n${ROWS.map((r) => line(r, '|')).join('\n')}\n`, 'utf16le').swap16() },
  { name: 'headerless.csv', format: { header: false, fields: ['id', 'name', 'amount', 'day'] }, body: () => `${ROWS.map((r) => line(r, ',')).join('\n')}\n` },
  { name: 'skip.csv', format: { header: { skip: 2 } }, body: () => `report of 2026-01-05\n"totals, by day\nid,name,amount,day\n${ROWS.map((r) => line(r, ',')).join('\n')}\n` },
  { name: 'array.json', format: {}, body: () => JSON.stringify(ROWS, null, 1) },
  { name: 'array-one-line.json', format: {}, body: () => JSON.stringify(ROWS) },
  { name: 'a.csv.zst', format: {}, body: () => zstdCompressSync(`id,name,amount,day\n${ROWS.map((r) => line(r, ',')).join('\n')}\n`) },
  { name: 'a.csv.bz2', format: {}, body: () => bzip2(Buffer.from(`id,name,amount,day\n${ROWS.map((r) => line(r, ',')).join('\n')}\n`)) },
  { name: 'array.json.gz', format: {}, body: () => gzipOf(JSON.stringify(ROWS, null, 1)) },
  { name: 'lines.json.bz2', format: {}, body: () => bzip2(Buffer.from(ROWS.map((r) => JSON.stringify(r)).join('\n'))) },
];

describe('every shape, in one invocation and continued over several', () => {
  test.each(shapes)('$name: every row, as written, once; continued, the same batches and ids', async ({ name, format, body }) => {
    const bytes = body();
    const whole = manifestOf((await produce(name, bytes, format)).outcome);
    const { outcome, invocations } = await produce(name, bytes, format, true);
    const continued = manifestOf(outcome);

    expect(invocations).toBeGreaterThan(2);
    for (const m of [whole, continued]) expect({ read: m.read, rejected: m.rejected }).toEqual({ read: 120, rejected: 0 });
    const rows = await rowsOf(whole);
    expect(rows.map(([n, row]) => [n, row])).toEqual(ROWS.map((r, i) => [i + 1, r]));
    expect(await rowsOf(continued)).toEqual(rows);
    // A retry of the same file version cuts the same batches under the same ids.
    emulator.reset();
    await emulator.publishSnapshot(ITEMS);
    dropped--;
    const again = manifestOf((await produce(name, bytes, format, true)).outcome);
    expect(again.batches.map((b) => b.batchId)).toEqual(continued.batches.map((b) => b.batchId));
  });
});

describe('refusals that help', () => {
  test('a semicolon file read with a comma: moved aside naming "format": { "delimiter": ";" }, never an ALTER TABLE', async () => {
    const { outcome } = await produce('eu-comma.csv', cp1252('id;name;amount\r\n1;Müller;1.234,50\r\n'), { delimiter: ',' });

    expect(outcome.status).toBe('moved-aside');
    const reason = await reasonOf('eu-comma.csv');
    expect(reason.code).toBe('wrong-delimiter');
    expect(reason.message).toContain('the header, split on ",", is one column "id;name;amount", which holds a semicolon (";"): the file is probably delimited by ";". Set the table\'s "format": { "delimiter": ";" }');
    expect(reason.message).not.toContain('ALTER TABLE');
  });

  test('a Windows-1252 file read as UTF-8: its rows are rejected naming the encoding option', async () => {
    const manifest = manifestOf((await produce('latin.csv', cp1252('id,name\n1,Müller\n2,plain\n'), {})).outcome);

    expect({ read: manifest.read, rejected: manifest.rejected }).toEqual({ read: 2, rejected: 1 });
    expect(manifest.rejectsListed![0]!.reason).toContain('set the table\'s "format": { "encoding": "windows-1252" }');
  });

  test('a UTF-16 file without a BOM read as UTF-8: moved aside naming the encoding', async () => {
    await produce('nobom.csv', Buffer.from('id,name\n1,a\n', 'utf16le'), {});

    const reason = await reasonOf('nobom.csv');
    expect(reason.code).toBe('wrong-encoding');
    expect(reason.message).toContain('looks like UTF-16LE without a byte order mark');
    expect(reason.message).toContain('"format": { "encoding": "utf-16le" }');
  });

  test('an NDJSON file under a table whose format sets a delimiter: moved aside, saying which options mean nothing for it', async () => {
    await produce('x.ndjson', '{"id":1}\n', { delimiter: ';', dates: { day: 'DD.MM.YYYY' } });

    const reason = await reasonOf('x.ndjson');
    expect(reason).toMatchObject({ code: 'format-option' });
    expect(reason.message).toMatch(/^the table's "format" sets "delimiter", which means nothing for an NDJSON file \(only "dates" applies to it\)/);
  });

  test('a decimal comma with no catalog snapshot yet: moved aside, never read with its numbers unconverted', async () => {
    emulator.reset();
    await produce('nosnap.csv', 'id;amount\n1;1,5\n', { delimiter: ';', decimal: ',' });

    const reason = await reasonOf('nosnap.csv');
    expect(reason.code).toBe('format-option');
    expect(reason.message).toContain('no catalog snapshot of table "items" yet');
  });

  test('a date key written the profile\'s way and the ISO way lands in one partition (the canonical key honours the pattern)', async () => {
    await emulator.publishSnapshot(catalogSnapshot('days', { day: 'date', n: 'int4' }, ['day']));
    const config = producerConfigFactory({ tables: [{ table: 'days', conflictKey: ['day'], partitions: 16, format: { dates: { day: 'DD.MM.YYYY' } } }] });
    const days = Array.from({ length: 20 }, (_, i) => `2026-02-${String(i + 1).padStart(2, '0')}`);
    const text = `day;n\n${days.flatMap((d, i) => [`${d.slice(8)}.${d.slice(5, 7)}.${d.slice(0, 4)};${i}`, `${d};${i}`]).join('\n')}\n`;
    const [outcome] = await processIntakeMessage(emulator.deps(config), s3EventBody(await emulator.drop('days/d.csv', text)));

    const manifest = manifestOf(outcome!);
    const partitionOfDay = new Map<string, Set<number>>();
    for (const b of manifest.batches) {
      const batch = await decodeBatch(await emulator.getBytes(STAGING, b.stagingKey));
      for (const day of batch.values[batch.columns.indexOf('day')]!) partitionOfDay.set(day!, (partitionOfDay.get(day!) ?? new Set()).add(b.partition));
    }
    expect([...partitionOfDay.keys()].sort()).toEqual(days);
    expect([...partitionOfDay.values()].every((p) => p.size === 1)).toBe(true);
    expect(new Set([...partitionOfDay.values()].map((p) => [...p][0])).size).toBeGreaterThan(1);
  });
});
