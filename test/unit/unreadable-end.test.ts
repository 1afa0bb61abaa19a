import { describe, expect, test } from 'vitest';
import { UnreadableFileError, UnreadableReason } from '../../shared/core/read/errors.ts';
import type { SourceEvent } from '../../shared/core/read/records.ts';
import { EndWatch, isReadDamage, unreadableEndMessage } from '../../shared/core/read/unreadable-end.ts';

const row = (n: number): SourceEvent => ({ kind: 'row', row: n, line: n + 1, values: [String(n)] });
const truncated = new UnreadableFileError(UnreadableReason.corruptGzip, 'corrupt gzip data (found with 100 bytes of the file read, 900 bytes decompressed): unexpected end of file');

async function* reader(events: (SourceEvent | readonly SourceEvent[])[], error: Error): AsyncGenerator<SourceEvent | readonly SourceEvent[]> {
  yield* events;
  throw error;
}

async function drain(watch: EndWatch, input: AsyncIterable<SourceEvent | readonly SourceEvent[]>): Promise<number> {
  let seen = 0;
  for await (const item of watch.events(input)) seen += Array.isArray(item) ? item.length : 1;
  return seen;
}

describe('EndWatch', () => {
  test('damage after rows ends the events, and says after which row', async () => {
    const watch = new EndWatch(null);

    const seen = await drain(watch, reader([{ kind: 'columns', names: ['id'] }, [row(1), row(2)], row(3)], truncated));

    expect(seen).toBe(4);
    expect(watch.end).toEqual({
      code: 'corrupt-gzip',
      afterRow: 3,
      afterLine: 4,
      message: 'the file is cut short: corrupt gzip data (found with 100 bytes of the file read, 900 bytes decompressed): unexpected end of file; rows 1 to 3 (through line 4) were read and loaded, the rest of the file was not',
    });
  });

  test('damage before any row is thrown: the whole file is unreadable', async () => {
    const watch = new EndWatch(null);
    await expect(drain(watch, reader([{ kind: 'columns', names: ['id'] }], truncated))).rejects.toBe(truncated);
    expect(watch.end).toBeNull();
  });

  test('a continued read counts the rows of the invocations before it', async () => {
    const watch = new EndWatch({ row: 40, lines: 41 });
    await drain(watch, reader([], truncated));
    expect(watch.end).toMatchObject({ afterRow: 40, afterLine: 41 });
  });

  test('any other error is thrown as it is', async () => {
    const other = new UnreadableFileError(UnreadableReason.unknownColumn, 'unknown column');
    const s3 = new Error('socket hang up');
    await expect(drain(new EndWatch(null), reader([row(1)], other))).rejects.toBe(other);
    await expect(drain(new EndWatch(null), reader([row(1)], s3))).rejects.toBe(s3);
    expect([isReadDamage(other), isReadDamage(s3), isReadDamage(truncated)]).toEqual([false, false, true]);
  });
});

test.each([
  ['corrupt zstd data (found with 10 bytes of the file read, 5 bytes decompressed): unexpected end of file', /^the file is cut short: /],
  ['row group 2 (rows 201-300) cannot be decoded: bad page', /^the end of the file is unreadable: row group 2 /],
  ['corrupt gzip data (found with 10 bytes of the file read, 5 bytes decompressed): incorrect data check', /^the file's data is corrupt: .*The damage can lie before where it was found/],
])('the reason for %s', (message, expected) => {
  expect(unreadableEndMessage(message, 7, 8)).toMatch(expected);
});
