import { join } from 'node:path';
import { expect, test } from 'vitest';
import { forgetCommand } from '../../cli/commands/forget.ts';
import { parseConfig } from '../../shared/core/config.ts';
import { manifestKeyOf } from '../../shared/core/keys.ts';
import { fileReceipts, forgetFile, registerFile } from '../../shared/postgres/ledger/files.ts';
import { makeBatch } from '../helpers/batches.ts';
import { manifestOf } from '../helpers/manifests.ts';
import { captureIo } from '../helpers/cli.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { FAST_VISIBILITY, startTestStack } from '../helpers/local-stack.ts';

// A flake of cli-files.test.ts, made certain: SQS delivers at least once, so a file notice can
// come again after its file was registered (an invocation slower than the queue's visibility
// timeout, as on a loaded machine). When that late copy arrives after `landfall forget`, it must
// not register the forgotten file again as moved aside. The consumer here holds the first
// delivery of the notice past the visibility timeout, so SQS hands the same notice out again.
// Without the ledger remembering the forget (landfall.forgotten_files), the late copy registers
// the file again, and the check below fails every time.
const db = await createTestDatabase();
await db.sql`CREATE TABLE items (id int PRIMARY KEY, name text, v int NOT NULL)`;
const config = parseConfig({ tables: [{ table: 'items', prefix: 'items/', conflictKey: ['id'], version: 'v', partitions: 2 }] });

let forgot = false;
let forgotten: () => void = () => {};
const forgetDone = new Promise<void>((resolve) => (forgotten = resolve));
let lateDeliveries = 0;
let lateDone: () => void = () => {};
const lateDelivered = new Promise<void>((resolve) => (lateDone = resolve));
const isNotice = (body: string) => body.includes('"kind":"file"') && body.includes('"table":"items"');

const t = await startTestStack(config, db.url, {
  wrapHandler: (name, handler) =>
    name !== 'consumer'
      ? handler
      : async (event, context) => {
          if (!event.Records.some((r) => isNotice(r.body))) return handler(event, context);
          const late = forgot;
          const response = await handler(event, context);
          if (late) {
            lateDeliveries++;
            lateDone();
          } else {
            // A delivery before forget registered the file; its invocation is held until forget
            // ran and past the queue's visibility timeout, so SQS hands the notice out again after.
            await forgetDone;
            await new Promise((resolve) => setTimeout(resolve, (FAST_VISIBILITY.batches + 1) * 1000));
          }
          return response;
        },
});
const options = { databaseUrl: db.url };

test('a file notice delivered again after forget does not bring the forgotten file back', async () => {
  // GIVEN an empty file, moved aside and registered
  const receipt = await t.run(t.file('late.csv', ''), 'items');
  expect(receipt).toMatchObject({ status: 'moved-aside', reasonCode: 'empty' });

  // WHEN it is forgotten, and then its notice is delivered again
  const io = captureIo({ LANDFALL_HOME: join(t.dir, 'cli-home') });
  expect(await forgetCommand('items/late.csv', options, io)).toBe(0);
  expect(await fileReceipts(db.sql, { key: 'items/late.csv' })).toEqual([]);
  forgot = true;
  forgotten();
  await lateDelivered;

  // THEN the ledger still does not list it
  expect(lateDeliveries).toBeGreaterThan(0);
  expect(await fileReceipts(db.sql, { key: 'items/late.csv' })).toEqual([]);

  // AND the file dropped again once fixed loads, as forget promises
  const again = await t.run(t.file('late.csv', 'id,name,v\n1,a,1\n'), 'items');
  expect(again).toMatchObject({ status: 'complete', inserted: 1, addsUp: true });
  expect(await fileReceipts(db.sql, { key: 'items/late.csv' })).toHaveLength(1);
});

test('the same file produced again after forget (same version: its manifest written after the forget) registers', async () => {
  const batch = makeBatch({ table: 'items', rows: [{ id: '7', name: 'x', v: '1' }] });
  const key = manifestKeyOf('items', batch.fileId);
  const produced = manifestOf(batch, { status: 'producing', batchCount: 0 });
  await registerFile(db.sql, produced, key);
  await forgetFile(db.sql, batch.fileId);
  const [forgotten] = await db.sql<{ at: Date }[]>`SELECT forgotten_at AS at FROM landfall.forgotten_files WHERE file_id = ${batch.fileId}`;

  // A notice of the manifest from before the forget: nothing
  await registerFile(db.sql, produced, key);
  expect(await fileReceipts(db.sql, { fileIds: [batch.fileId] })).toEqual([]);

  // The file read again after it (the same S3 version, notified again): registered
  const later = new Date(forgotten!.at.getTime() + 1000).toISOString();
  await registerFile(db.sql, { ...produced, startedAt: later, finishedAt: later }, key);
  expect(await fileReceipts(db.sql, { fileIds: [batch.fileId] })).toMatchObject([{ fileId: batch.fileId, status: 'pending' }]);
});
