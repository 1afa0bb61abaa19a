import { describe, expect, test } from 'vitest';
import { attentionOf, type PageFile } from '../../cli/status-attention.ts';

const file = (name: string, status: string, extra: Partial<PageFile> = {}): PageFile => ({
  fileId: name,
  file: `t/${name}`,
  table: 't',
  status,
  registeredAt: '2026-12-07T02:00:00Z',
  rejected: 0,
  ...extra,
});
const none = { blocked: [], quarantine: [], queues: null };

describe('attentionOf: the status page\'s "needs attention" band', () => {
  test('complete files and files on their way need nobody', () => {
    expect(attentionOf({ ...none, files: [file('a', 'complete'), file('b', 'pending'), file('c', 'replaying')] })).toEqual([]);
  });

  test('a state it does not know (added to the ledger later) is shown by its name, with the file\'s reason and fix', () => {
    const [item] = attentionOf({ ...none, files: [file('a', 'held', { reason: 'snapshot scope held: 40% would be removed', fix: 'landfall snapshot release a' }), file('b', 'complete')] });

    expect(item).toEqual({
      kind: 'file-state',
      severity: 'error',
      title: '1 file held',
      fix: 'landfall status FILE says what to do',
      items: [{ name: 't/a', detail: 't, 2026-12-07 02:00:00', reason: 'snapshot scope held: 40% would be removed', fix: 'landfall snapshot release a' }],
      count: 1,
    });
  });

  test('files are grouped by state, the first few listed and the rest counted', () => {
    const files = Array.from({ length: 7 }, (_, i) => file(`m${i}`, 'moved-aside', { reason: 'not UTF-8', fix: 'convert it' }));

    const [item] = attentionOf({ ...none, files });

    expect(item).toMatchObject({ title: '7 files moved aside', count: 7 });
    expect(item!.items).toHaveLength(5);
  });

  test('rejected rows are a warning, after the errors; a parked batch is an error, a batch in the DLQ a warning', () => {
    const items = attentionOf({
      ...none,
      files: [file('a', 'complete', { rejected: 3 })],
      queues: [
        { queue: 'batchesDlq', name: 'dlq.fifo', visible: 1, inFlight: 1 },
        { queue: 'parking', name: 'parking.fifo', visible: 2, inFlight: 0 },
        { queue: 'intake', name: 'intake', visible: 9, inFlight: 0 },
      ],
    });

    expect(items.map((i) => [i.kind, i.severity, i.title])).toEqual([
      ['queue', 'error', '2 batches parked: replay could not apply them either'],
      ['rejects', 'warn', '3 rows rejected in 1 file: the producer could not read them, nothing of them was loaded'],
      ['queue', 'warn', '2 batches in the DLQ: replay is applying them row by row, bad rows go to the quarantine'],
    ]);
  });
});
