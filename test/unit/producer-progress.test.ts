import { describe, expect, test } from 'vitest';
import type { ManifestBatch } from '../../shared/core/batch-message.ts';
import { mayStartSegment, parseContinuation, rebaseEvents, sliceBytes } from '../../shared/core/progress.ts';
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
