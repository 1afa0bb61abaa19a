import { describe, expect, test } from 'vitest';
import type { ManifestBatch } from '../../shared/core/batch-message.ts';
import { mayStartSegment, parseContinuation, rebaseEvents, resumedReadOf, sliceBytes } from '../../shared/core/progress.ts';
import { readCsv } from '../../shared/core/read/read-csv.ts';
import { readNdjson } from '../../shared/core/read/read-ndjson.ts';
import type { SourceEvent } from '../../shared/core/read/records.ts';
import { StreamingSender } from '../../shared/producer/streaming-sender.ts';
import { chunked, collect } from '../helpers/producer-files.ts';

const text = (chunks: Uint8Array[]) => Buffer.concat(chunks).toString('latin1');

describe('resume points', () => {
  test('a CSV record ends where its bytes end: after the BOM, quoted newlines and blank lines', async () => {
    const csv = '\ufeffid,name\n1,"a\nb"\n\n2,c\n';
    const events = await collect(readCsv(chunked(csv, 3)));
    expect(events.map((e) => ('resume' in e ? e.resume : undefined))).toEqual([
      { at: 11, bytes: 11, lines: 1 },
      { at: 19, bytes: 19, lines: 3 },
      { at: 24, bytes: 24, lines: 5 },
    ]);
    expect(Buffer.byteLength(csv)).toBe(24);
  });

  test('an NDJSON line ends after its LF; blank lines are no resume point', async () => {
    const events = await collect(readNdjson(chunked('{"a":1}\n\n{"a":2}\nx\n', 4)));
    expect(events.flatMap((e) => ('resume' in e && e.resume ? [e.resume.at] : []))).toEqual([8, 17, 19]);
  });
});

describe('CSV resume points, on any file', () => {
  // Random files with what makes byte offsets and line numbers hard: LF, CRLF and lone CR line
  // ends (a CRLF is often split between chunks), multi-byte and invalid UTF-8, a BOM, quoted
  // fields with line breaks and doubled quotes, blank lines, rows with the wrong field count, no
  // final line break, and a quote that is never closed. A read resumed after any record (the
  // header's bytes, then the file from its resume point) must give the rest of the whole read.
  let seed = 11;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return (seed >>> 8) % n;
  };
  const pick = <T,>(items: readonly T[]) => items[random(items.length)]!;
  const eols = ['\n', '\r\n', '\r'];
  const pieces = [Buffer.from('a'), Buffer.from('é'), Buffer.from('日本'), Buffer.from('😀'), Buffer.from([0xc3]), Buffer.from('1.5')];
  const quotedPieces = [...pieces, Buffer.from(','), Buffer.from('""'), Buffer.from('\n'), Buffer.from('\r\n'), Buffer.from('\r')];
  const fieldOf = (): Buffer => {
    if (random(4) === 0) return Buffer.concat([Buffer.from('"'), ...Array.from({ length: random(4) }, () => pick(quotedPieces)), Buffer.from('"')]);
    return Buffer.concat(Array.from({ length: random(3) }, () => pick(pieces)));
  };
  const fileOf = (): Buffer => {
    const parts: Buffer[] = random(3) === 0 ? [Buffer.from([0xef, 0xbb, 0xbf])] : [];
    const columns = 1 + random(3);
    parts.push(Buffer.from(Array.from({ length: columns }, (_, c) => `c${c}`).join(',')), Buffer.from(pick(eols)));
    const records = 1 + random(25);
    for (let r = 0; r < records; r++) {
      if (random(8) === 0) parts.push(Buffer.from(pick(eols))); // a blank line
      const count = random(10) === 0 ? columns + 1 : columns;
      parts.push(Buffer.concat(Array.from({ length: count }, (_, i) => (i > 0 ? Buffer.concat([Buffer.from(','), fieldOf()]) : fieldOf()))));
      if (r < records - 1 || random(4) > 0) parts.push(Buffer.from(pick(eols)));
    }
    if (random(6) === 0) parts.push(Buffer.from('x,"never closed\nmore\r\n\nlast'));
    return Buffer.concat(parts);
  };

  test.each(Array.from({ length: 60 }, (_, i) => i))('random file %i', async () => {
    const file = fileOf();
    const size = 1 + random(12);
    const whole = await collect(readCsv(chunked(file, size)));
    const header = whole[0]!;
    if (header.kind !== 'columns' || !header.resume) return expect.fail('the header carries a resume point');
    const prefix = { start: 0, end: header.resume.at, rows: 0, lines: header.resume.lines };
    let resumable = 0;
    for (let k = 1; k < whole.length; k++) {
      const event = whole[k]!;
      if (event.kind === 'columns' || !event.resume) continue;
      resumable++;
      const bytes = Buffer.concat([file.subarray(0, prefix.end), file.subarray(event.resume.at)]);
      const progress = { fileFormat: 'csv' as const, position: { ...event.resume, row: event.row }, prefix };
      const rest = await collect(rebaseEvents(readCsv(chunked(bytes, 1 + random(12)), { resumed: resumedReadOf(progress) }), progress));
      expect(rest, `resumed after row ${event.row} (byte ${event.resume.at})`).toEqual(whole.slice(k + 1));
    }
    expect(resumable).toBeGreaterThan(0);
    // After the last resume point only blank lines are left, unless a quote that is never closed ends the file.
    const ends = whole.flatMap((e) => (e.resume ? [e.resume.at] : []));
    if (!whole.some((e) => e.kind === 'reject' && !e.resume)) expect(file.subarray(ends.at(-1)).toString('latin1')).toMatch(/^[\r\n]*$/);
  });
});

describe('rebaseEvents', () => {
  test('GIVEN a CSV read again from its header and then a position THEN rows, lines and resume points are those of the whole file', async () => {
    const csv = 'id,name\n1,a\n2,b\n3,"c\nc"\n4,d\n';
    const whole = await collect(readCsv(chunked(csv)));
    const second = whole[2]!; // row 2
    const resume = second.kind === 'row' ? second.resume! : expect.fail('row');
    const bytes = Buffer.from(csv);
    const resumed = chunked(Buffer.concat([bytes.subarray(0, 8), bytes.subarray(resume.at)]));

    const events = await collect(
      rebaseEvents(readCsv(resumed), { fileFormat: 'csv', position: { ...resume, row: 2 }, prefix: { start: 0, end: 8, rows: 0, lines: 1 } }),
    );

    expect(events).toEqual(whole.slice(3));
  });

  test('GIVEN a CSV header that ends with a lone CR and a position before a blank LF line THEN the resumed read keeps them two line ends', async () => {
    const csv = 'id,name\r1,a\r\n\n2,b\n';
    const whole = await collect(readCsv(chunked(csv, 3)));
    const first = whole[1]!;
    const resume = first.kind === 'row' ? first.resume! : expect.fail('row');
    const progress = { fileFormat: 'csv' as const, position: { ...resume, row: 1 }, prefix: { start: 0, end: 8, rows: 0, lines: 1 } };
    const bytes = Buffer.from(csv);
    const resumed = chunked(Buffer.concat([bytes.subarray(0, 8), bytes.subarray(resume.at)]), 3);

    const events = await collect(rebaseEvents(readCsv(resumed, { resumed: resumedReadOf(progress) }), progress));

    expect(events).toEqual(whole.slice(2));
    expect(events[0]).toMatchObject({ kind: 'row', row: 2, line: 4 });
  });

  test('NDJSON drops the first object it reads again (its columns) and numbers the rest as in the file', async () => {
    const ndjson = 'junk\n{"a":1}\n{"a":2}\n\n{"a":3}\n';
    const whole = await collect(readNdjson(chunked(ndjson)));
    const bytes = Buffer.from(ndjson);
    const at = 21; // after {"a":2}
    const events = await collect(
      rebaseEvents(readNdjson(chunked(Buffer.concat([bytes.subarray(5, 13), bytes.subarray(at)]))), {
        fileFormat: 'ndjson',
        position: { at, bytes: at, lines: 3, row: 3 },
        prefix: { start: 5, end: 13, rows: 1, lines: 1 },
      }),
    );
    expect(events).toEqual(whole.slice(-1));
    expect(events[0]).toMatchObject({ kind: 'row', row: 4, line: 5, resume: { at: 30, lines: 5 } });
  });

  test('Parquet events keep their numbers; only the columns are dropped', async () => {
    async function* source(): AsyncGenerator<SourceEvent> {
      yield { kind: 'columns', names: ['a'] };
      yield { kind: 'row', row: 51, line: 51, values: ['x'] };
    }
    const events = await collect(rebaseEvents(source(), { fileFormat: 'parquet', position: { at: 1, bytes: 100, lines: 50, row: 50 }, prefix: null }));
    expect(events).toEqual([{ kind: 'row', row: 51, line: 51, values: ['x'] }]);
  });
});

describe('sliceBytes', () => {
  test('passes on only the ranges, across chunk boundaries', async () => {
    const out = await collect(sliceBytes(chunked('0123456789abcdef', 3), [{ start: 1, end: 4 }, { start: 10, end: Infinity }]));
    expect(text(out)).toBe('123abcdef');
  });

  test('an empty range gives nothing', async () => {
    expect(text(await collect(sliceBytes(chunked('0123456789', 4), [{ start: 2, end: 2 }, { start: 8, end: Infinity }])))).toBe('89');
  });
});

describe('mayStartSegment', () => {
  const budget = { maxInvocationMs: 9 * 60_000, deadlineMarginMs: 60_000 };
  test.each([
    { elapsed: 0, remaining: 900_000, longest: 10_000, expected: true },
    { elapsed: 8 * 60_000, remaining: 420_000, longest: 20_000, expected: true },
    { elapsed: 8.5 * 60_000, remaining: 390_000, longest: 20_000, expected: false },
    // The function's own deadline is nearer than the cap.
    { elapsed: 0, remaining: 70_000, longest: 10_000, expected: false },
  ])('elapsed $elapsed ms, remaining $remaining ms, longest segment $longest ms: $expected', ({ elapsed, remaining, longest, expected }) => {
    expect(mayStartSegment(budget, elapsed, remaining, longest)).toBe(expected);
  });
});

describe('parseContinuation', () => {
  test('an S3 notification is no continuation', () => {
    expect(parseContinuation(JSON.stringify({ Records: [] }))).toBeNull();
  });
  test('a malformed continuation names the field', () => {
    expect(() => parseContinuation(JSON.stringify({ format: 1, kind: 'landfall-continue', fileId: 'f', table: 't', segment: 0, progressKey: 'k' }))).toThrow(/segment/);
  });
});

describe('StreamingSender', () => {
  const batch = (partition: number, chunk: number): ManifestBatch => ({ batchId: `${partition}-${chunk}`, partition, chunk, stagingKey: '', rows: 1, firstRow: 1, lastRow: 1 });

  test('holds the last chunk of each partition, whatever order the uploads finish in', async () => {
    const sent: string[] = [];
    const sender = new StreamingSender(async (ready) => void sent.push(...ready.map((b) => b.batchId)));
    for (const b of [batch(1, 1), batch(0, 0), batch(1, 0), batch(0, 1), batch(1, 2)]) sender.written(b);
    await sender.flush();
    expect(sent).toEqual(['1-0', '0-0', '1-1']);
    expect(sender.held.map((b) => b.batchId)).toEqual(['0-1', '1-2']);
  });

  test('a resumed invocation starts at the chunks it is given, and release() sends what it holds', async () => {
    const sent: string[] = [];
    const sender = new StreamingSender(async (ready) => void sent.push(...ready.map((b) => b.batchId)), [3]);
    sender.written(batch(0, 4));
    sender.written(batch(0, 3));
    sender.release();
    await sender.flush();
    expect(sent).toEqual(['0-3', '0-4']);
    expect(sender.held).toEqual([]);
  });
});
