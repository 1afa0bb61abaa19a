import { ChangeMessageVisibilityCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { SQSEvent } from 'aws-lambda';
import type postgres from 'postgres';
import { fileReceipts, type FileReceipt } from '../shared/postgres/ledger/files.ts';
import { catalogSnapshotKeyOf, parseSnapshot } from '../shared/core/catalog-snapshot.ts';
import { EnvVar } from '../shared/environment/env.ts';
import { csvOf, gzipOf, ndjsonOf, parquetOf, type Row } from '../test/helpers/producer-files.ts';
import { type FunctionPool, functionPool, type LogLine } from './lambda.ts';
import type { RehearsalStack } from './stack.ts';

/** The table every scenario writes to, with a trigger that lets one scenario fail replay for good. */
export const SCHEMA = `
CREATE TABLE public.items (id int PRIMARY KEY, name text NOT NULL, qty int NOT NULL CHECK (qty >= 0), seq int NOT NULL);
CREATE FUNCTION public.rehearsal_park() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.name = 'PARK-ME' THEN
    -- The consumer sees a data error (the batch goes to the DLQ); replay one it cannot retry its
    -- way past, every time (a transient one would back off for the better part of an hour).
    IF current_setting('application_name') = 'landfall-replay' THEN
      RAISE EXCEPTION 'rehearsal: replay keeps failing' USING ERRCODE = '55000';
    END IF;
    RAISE EXCEPTION 'rehearsal: a batch for replay' USING ERRCODE = '23514';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER rehearsal_park BEFORE INSERT OR UPDATE ON public.items FOR EACH ROW EXECUTE FUNCTION public.rehearsal_park();
-- Rows the consumer ('FLAKY'), or replay ('REPLAY-FLAKY', which the consumer sends to the DLQ),
-- fails on transiently six times (a sequence is not rolled back): more than one invocation's
-- in-process attempts, so the function makes its record visible again itself.
CREATE SEQUENCE public.rehearsal_flaky;
CREATE SEQUENCE public.rehearsal_flaky_replay;
GRANT USAGE ON SEQUENCE public.rehearsal_flaky, public.rehearsal_flaky_replay TO PUBLIC;
CREATE FUNCTION public.rehearsal_flaky() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.name = 'FLAKY' AND current_setting('application_name') = 'landfall-consumer' AND nextval('public.rehearsal_flaky') <= 6 THEN
    RAISE EXCEPTION 'rehearsal: a transient failure' USING ERRCODE = '40001';
  END IF;
  IF NEW.name = 'REPLAY-FLAKY' THEN
    IF current_setting('application_name') = 'landfall-consumer' THEN
      RAISE EXCEPTION 'rehearsal: a batch for replay' USING ERRCODE = '23514';
    END IF;
    IF nextval('public.rehearsal_flaky_replay') <= 6 THEN
      RAISE EXCEPTION 'rehearsal: a transient failure in replay' USING ERRCODE = '40001';
    END IF;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER rehearsal_flaky BEFORE INSERT OR UPDATE ON public.items FOR EACH ROW EXECUTE FUNCTION public.rehearsal_flaky();
-- The snapshot scenario's child table: each file is the whole list of an item's parts.
CREATE TABLE public.item_parts (item_id int NOT NULL, part text NOT NULL, qty int NOT NULL CHECK (qty >= 0), _landfall_arrival text COLLATE "C", PRIMARY KEY (item_id, part));
`;

export const TABLE_CONFIG = {
  tables: [
    { table: 'public.items', prefix: 'items/', conflictKey: ['id'], version: 'seq', partitions: 2 },
    { table: 'public.item_parts', prefix: 'item_parts/', conflictKey: ['item_id', 'part'], mode: 'snapshot', scope: ['item_id'], partitions: 2 },
  ],
};

/** The tables the rehearsal creates, for their owner to be the functions' database user. */
export const REHEARSAL_TABLES = ['public.items', 'public.item_parts'];

/** Row values that must never appear in a log line. */
export const SECRET_MARK = 'ROWVALUE-SECRET';

export interface ScenarioResult {
  name: string;
  ok: boolean;
  problems: string[];
}

export type Item = { id: number; name: string; qty: number; seq: number };

/** The oracle: DESIGN.md rule 1 over the rows applied, in drop order (greatest seq wins, ties the later arrival). */
export class Oracle {
  readonly rows = new Map<number, Item>();
  apply(items: readonly Item[]) {
    for (const item of items) {
      const stored = this.rows.get(item.id);
      if (!stored || stored.seq <= item.seq) this.rows.set(item.id, item);
    }
  }
}

export const items = (from: number, to: number, seq: number, name = (i: number) => `item ${i}`): Item[] =>
  Array.from({ length: to - from + 1 }, (_, k) => ({ id: from + k, name: name(from + k), qty: from + k, seq }));

export async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // The ledger does not exist before the first function migrated it: not there yet.
    const value = await probe().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export const receiptOf = (sql: postgres.Sql, key: string) => fileReceipts(sql, { key }).then((r) => r[0]);
export const addsUp = (r: FileReceipt) => r.read === r.rejected + r.collapsed + r.inserted + r.updated + r.unchanged + r.stale + r.deleted + r.quarantined;

/**
 * How many records of an invocation failed: those it reported back, or all of them when the
 * invocation itself failed (Powertools throws when every record failed, so Lambda's Errors
 * metric sees it; SQS then returns every record to the queue).
 */
async function failedRecords(pool: FunctionPool, event: SQSEvent): Promise<number> {
  try {
    const response = await pool.invoke(event);
    return response?.batchItemFailures?.length ?? 0;
  } catch (error) {
    if (/All records failed processing/.test((error as Error).message)) return event.Records.length;
    throw error;
  }
}

export function expectCounts(problems: string[], receipt: FileReceipt, expected: Partial<FileReceipt>) {
  if (!addsUp(receipt)) problems.push(`${receipt.file}: counts do not add up: ${JSON.stringify(receipt)}`);
  for (const [k, v] of Object.entries(expected)) {
    const actual = receipt[k as keyof FileReceipt];
    if (actual !== v) problems.push(`${receipt.file}: ${k} is ${String(actual)}, expected ${String(v)}`);
  }
}

async function completed(stack: RehearsalStack, sql: postgres.Sql, key: string, timeoutMs = 90_000): Promise<FileReceipt> {
  return until(`${key} to complete`, timeoutMs, async () => {
    const r = await receiptOf(sql, key);
    return r?.status === 'complete' ? r : undefined;
  });
}

async function queueDepth(stack: RehearsalStack, queueId: string): Promise<number> {
  const { Attributes } = await stack.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: stack.queueUrls[queueId], AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
}

const queueIdNamed = (stack: RehearsalStack, suffix: string) =>
  Object.keys(stack.queueUrls).find((id) => (stack.assembly.resources[id]!.Properties!.QueueName as string).endsWith(suffix))!;

/** What a scenario module gets: the stack, the database, the oracle of the table, and `scenario` to run each check under. */
export interface ScenarioContext {
  stack: RehearsalStack;
  sql: postgres.Sql;
  oracle: Oracle;
  scenario: (name: string, body: (problems: string[]) => Promise<void>) => Promise<void>;
}

/**
 * The scenarios of issue 11, in order, then those of `extra` modules; each asserts its receipts
 * and the table against the oracle.
 */
export async function runScenarios(
  stack: RehearsalStack,
  sql: postgres.Sql,
  log: (line: string) => void,
  extra: readonly ((context: ScenarioContext) => Promise<void>)[] = [],
): Promise<ScenarioResult[]> {
  const oracle = new Oracle();
  const results: ScenarioResult[] = [];
  const scenario = async (name: string, body: (problems: string[]) => Promise<void>) => {
    const problems: string[] = [];
    const started = Date.now();
    try {
      await body(problems);
      const table = await sql<Item[]>`SELECT id, name, qty, seq FROM public.items ORDER BY id`;
      const expected = [...oracle.rows.values()].sort((a, b) => a.id - b.id);
      if (JSON.stringify(table.map((r) => ({ ...r }))) !== JSON.stringify(expected)) {
        const have = new Map(table.map((r) => [r.id, r]));
        const wrong = expected.filter((e) => JSON.stringify({ ...have.get(e.id) }) !== JSON.stringify(e)).slice(0, 3);
        problems.push(`table differs from the oracle: ${table.length} rows, expected ${expected.length}; first differences at ids ${wrong.map((w) => w.id).join(', ') || '(extra rows)'}`);
      }
    } catch (error) {
      problems.push((error as Error).message);
    }
    results.push({ name, ok: problems.length === 0, problems });
    log(`  ${problems.length === 0 ? 'ok  ' : 'FAIL'} ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)${problems.map((p) => `\n       ${p}`).join('')}`);
  };
  const rowsOf = (list: Item[]): Row[] => list.map((i) => ({ ...i }));

  await scenario('deploy step: every table\'s catalog snapshot in staging before the first file', async (problems) => {
    const steps = await stack.runDeploySteps();
    if (steps.length !== 1 || steps[0]!.function !== 'consumer') problems.push(`expected one deploy step invoking the consumer, found ${JSON.stringify(steps.map((s) => s.function))}`);
    const answer = steps[0]?.answer as { tables?: { table: string; ready: boolean }[] } | undefined;
    const notReady = TABLE_CONFIG.tables.filter((t) => !answer?.tables?.some((a) => a.table === t.table && a.ready));
    if (notReady.length) problems.push(`the deploy step did not prepare ${notReady.map((t) => t.table).join(', ')}: ${JSON.stringify(answer)}`);
    const bucket = stack.functions.consumer.spec.environment[EnvVar.stagingBucket]!;
    for (const table of TABLE_CONFIG.tables) {
      const object = await stack.s3.send(new GetObjectCommand({ Bucket: bucket, Key: catalogSnapshotKeyOf(table.table) })).catch(() => null);
      const snapshot = object?.Body ? parseSnapshot(await object.Body.transformToString()) : null;
      if (!snapshot) problems.push(`no catalog snapshot of ${table.table} in staging after the deploy step`);
      else if (JSON.stringify(snapshot.conflictKey) !== JSON.stringify(table.conflictKey)) problems.push(`the snapshot of ${table.table} has key ${JSON.stringify(snapshot.conflictKey)}`);
    }
  });

  let firstDrop = '';
  await scenario('CSV drop', async (problems) => {
    const rows = [...items(1, 30, 1), { id: 7, name: 'item 7 again', qty: 70, seq: 2 }];
    const dropped = await stack.drop('items/s1-full.csv', csvOf(rowsOf(rows)));
    firstDrop = dropped.body;
    if (dropped.notified !== 1) problems.push(`the inbox notification reached ${dropped.notified} queues, expected 1`);
    const r = await completed(stack, sql, 'items/s1-full.csv');
    oracle.apply(rows);
    // Two partitions from the first file on: the producer read the snapshot the deploy step wrote.
    expectCounts(problems, r, { read: 31, collapsed: 1, inserted: 30, rejected: 0, batches: 2 });
  });

  await scenario('NDJSON.gz drop', async (problems) => {
    const rows = [...items(21, 40, 2, (i) => `item ${i} v2`), { id: 3, name: 'stale', qty: 3, seq: 0 }];
    await stack.drop('items/s2-updates.ndjson.gz', gzipOf(ndjsonOf(rowsOf(rows))));
    const r = await completed(stack, sql, 'items/s2-updates.ndjson.gz');
    oracle.apply(rows);
    expectCounts(problems, r, { read: 21, updated: 10, inserted: 10, stale: 1 });
  });

  await scenario('Parquet drop', async (problems) => {
    const rows = items(41, 50, 1);
    await stack.drop('items/s3-more.parquet', await parquetOf(rowsOf(rows)));
    const r = await completed(stack, sql, 'items/s3-more.parquet');
    oracle.apply(rows);
    expectCounts(problems, r, { read: 10, inserted: 10 });
  });

  await scenario('duplicate notification', async (problems) => {
    const before = await receiptOf(sql, 'items/s1-full.csv');
    const resent = () => stack.logs.filter((l) => l.function === 'producer' && l.text.includes('its batch messages were sent again')).length;
    const before_ = resent();
    await stack.notifyAgain(firstDrop);
    // The producer reads the manifest back and sends the same batch messages (same deduplication
    // ids: SQS FIFO drops them within its 5-minute window; later, the ledger commits nothing new).
    await until('the producer to handle the duplicate notification', 60_000, async () => resent() > before_);
    await until('the batches queue to drain', 60_000, async () => (await queueDepth(stack, queueIdNamed(stack, 'batches.fifo'))) === 0);
    const after = await receiptOf(sql, 'items/s1-full.csv');
    const files = await fileReceipts(sql, { key: 'items/s1-full.csv' });
    if (files.length !== 1) problems.push(`the file has ${files.length} ledger rows after a duplicate notification`);
    if (JSON.stringify(before) !== JSON.stringify(after)) problems.push('the receipt changed after a duplicate notification');
  });

  await scenario('poison batch: producer → consumer → DLQ → replay → quarantine', async (problems) => {
    const rows = items(100, 109, 1).map((i) => (i.id === 103 || i.id === 107 ? { ...i, qty: -1, name: `${SECRET_MARK}-${i.id}` } : i));
    await stack.drop('items/s5-bad-rows.csv', csvOf(rowsOf(rows)));
    const r = await completed(stack, sql, 'items/s5-bad-rows.csv');
    oracle.apply(rows.filter((i) => i.qty >= 0));
    expectCounts(problems, r, { read: 10, inserted: 8, quarantined: 2 });
    const [row] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM landfall.quarantine WHERE file_key = 'items/s5-bad-rows.csv'`;
    const n = row?.n ?? 0;
    if (n !== 2) problems.push(`quarantine holds ${n} rows, expected 2`);
  });

  await scenario('a transient failure: retried in the invocation, then made visible again by the consumer itself, applied once', async (problems) => {
    const rows = [{ id: 301, name: 'FLAKY', qty: 1, seq: 1 }];
    await stack.drop('items/s9-flaky.csv', csvOf(rowsOf(rows)));
    const r = await completed(stack, sql, 'items/s9-flaky.csv');
    oracle.apply(rows);
    expectCounts(problems, r, { read: 1, inserted: 1 });
    // The consumer's own ChangeMessageVisibility on batches.fifo, IAM enforced (the role's bound
    // RetryOwnBatchesSoon statement), instead of the queue's visibility timeout.
    const batches = stack.assembly.resources[queueIdNamed(stack, 'batches.fifo')]!.Properties!.QueueName as string;
    const changes = stack.functions.consumer.recorder.calls.filter((c) => c.action === 'sqs:ChangeMessageVisibility' && c.resource.endsWith(`:${batches}`));
    if (!changes.some((c) => c.status === 200)) problems.push(`the consumer changed no visibility on ${batches}: ${JSON.stringify(changes)}`);
    const [applied] = await sql<{ applications: number }[]>`SELECT b.applications FROM landfall.batches b JOIN landfall.files f USING (file_id) WHERE f.key = 'items/s9-flaky.csv'`;
    if (applied?.applications !== 1) problems.push(`the batch was applied ${applied?.applications ?? 0} times`);
  });

  await scenario('a transient failure in replay: retried in the invocation, then made visible again by replay itself, applied once', async (problems) => {
    const rows = [{ id: 302, name: 'REPLAY-FLAKY', qty: 1, seq: 1 }];
    await stack.drop('items/s10-replay-flaky.csv', csvOf(rowsOf(rows)));
    // Replay's own ChangeMessageVisibility on the DLQ, IAM enforced (its bound RetryOwnReplaysSoon).
    const dlqId = queueIdNamed(stack, 'batches-dlq.fifo');
    const dlq = stack.assembly.resources[dlqId]!.Properties!.QueueName as string;
    const change = await until('replay to make its record visible again later', 120_000, async () =>
      stack.functions.replay.recorder.calls.find((c) => c.action === 'sqs:ChangeMessageVisibility' && c.resource.endsWith(`:${dlq}`) && c.status === 200)?.visibility?.[0],
    );
    // Replay's first backoff is 30–60 s (its DLQ has five receives to last the better part of an
    // hour). That wait is time, not IAM: once the call above was allowed and asked for it, the
    // rehearsal ends the wait itself (as the emulator's admin, outside the functions' roles), and
    // the next receive applies the row once.
    if (change.seconds < 30 || change.seconds > 60) problems.push(`replay asked for ${change.seconds} s of invisibility on its first failed receive, expected its first backoff (30–60 s)`);
    await stack.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: stack.queueUrls[dlqId], ReceiptHandle: change.receiptHandle, VisibilityTimeout: 0 }));
    const r = await completed(stack, sql, 'items/s10-replay-flaky.csv', 120_000);
    oracle.apply(rows);
    expectCounts(problems, r, { read: 1, inserted: 1 });
  });

  await scenario('snapshot: the consumer removes what a file no longer holds, once, after its last batch', async (problems) => {
    const parts = (item: number, names: string[]) => names.map((part) => ({ item_id: item, part, qty: 1 }));
    await stack.drop('item_parts/p1.csv', csvOf([...parts(1, ['a', 'b', 'c', 'd']), ...parts(2, ['a', 'b', 'c'])]));
    const first = await completed(stack, sql, 'item_parts/p1.csv');
    expectCounts(problems, first, { inserted: 7, removed: 0 });
    // Item 1 loses part b; item 2 is not in the file and keeps all its parts.
    await stack.drop('item_parts/p2.csv', csvOf(parts(1, ['a', 'c', 'd'])));
    const second = await completed(stack, sql, 'item_parts/p2.csv');
    expectCounts(problems, second, { read: 3, unchanged: 3, removed: 1 });
    const stored = await sql<{ k: string }[]>`SELECT item_id || part AS k FROM public.item_parts ORDER BY item_id, part`;
    if (stored.map((r) => r.k).join(' ') !== '1a 1c 1d 2a 2b 2c') problems.push(`item_parts holds ${stored.map((r) => r.k).join(' ')}`);
    const [ledger] = await sql<{ state: string; removed: number }[]>`SELECT state, removed::int FROM landfall.snapshot_files s JOIN landfall.files f USING (file_id) WHERE f.key = 'item_parts/p2.csv'`;
    if (ledger?.state !== 'done' || ledger.removed !== 1) problems.push(`the ledger says ${JSON.stringify(ledger)}`);
    // The consumer ran it (replay never saw these files), with its own role and grants.
    const ran = stack.logs.filter((l) => l.text.includes('"snapshot removal"') && l.text.includes('"removed":1'));
    if (ran.length !== 1 || ran[0]!.function !== 'consumer') problems.push(`expected one consumer log line of the removal, found ${ran.map((l) => l.function).join(', ') || 'none'}`);
    // A row PostgreSQL refuses (CHECK) sends its batch through the DLQ to replay: the row is
    // quarantined and still counts as present, so item 2 keeps every part and nothing is removed.
    await stack.drop('item_parts/p3.csv', csvOf([...parts(2, ['a', 'b', 'c']), { item_id: 2, part: 'z', qty: -1 }]));
    const third = await completed(stack, sql, 'item_parts/p3.csv');
    expectCounts(problems, third, { read: 4, unchanged: 3, quarantined: 1, removed: 0 });
    const settled = stack.logs.filter((l) => l.text.includes('"snapshot removal"') && l.text.includes(third.fileId));
    if (settled.length !== 1 || !['consumer', 'replay'].includes(settled[0]!.function)) problems.push(`expected one log line of the third file's removal, found ${settled.map((l) => l.function).join(', ') || 'none'}`);
    if (!stack.logs.some((l) => l.function === 'replay' && l.text.includes(third.fileId))) problems.push('replay never saw the third file');
  });

  await scenario('a replay that keeps failing reaches the parking queue', async (problems) => {
    const rows = [{ id: 201, name: 'PARK-ME', qty: 1, seq: 1 }];
    await stack.drop('items/s6-park.csv', csvOf(rowsOf(rows)));
    const parking = queueIdNamed(stack, 'parking.fifo');
    await until('the batch to be parked', 120_000, async () => (await queueDepth(stack, parking)) > 0);
    const failures = stack.logs.filter((l) => l.function === 'replay' && isErrorLine(l));
    if (failures.length < 5) problems.push(`replay logged ${failures.length} error lines for 5 failed receives`);
    const r = await receiptOf(sql, 'items/s6-park.csv');
    if (!r || r.status === 'complete') problems.push(`the parked file's receipt says ${r?.status ?? 'nothing'}`);
    // Leave the parking queue empty for the next mode's checks.
    const got = await stack.sqs.send(new ReceiveMessageCommand({ QueueUrl: stack.queueUrls[parking], MaxNumberOfMessages: 10 }));
    for (const m of got.Messages ?? []) await stack.sqs.send(new DeleteMessageCommand({ QueueUrl: stack.queueUrls[parking], ReceiptHandle: m.ReceiptHandle! }));
  });

  await scenario('a file deleted before the producer reads it is gone, not a failure', async (problems) => {
    const gone = () => stack.logs.filter((l) => l.function === 'producer' && l.text.includes('no longer exists')).length;
    const before = gone();
    await stack.notifyVanished('items/s8-vanished.csv');
    // S3 answers 404 (not 403) only because the role may list the inbox; the producer then drops the notification.
    await until('the producer to see the file gone', 60_000, async () => gone() > before);
    await until('the intake queue to drain', 60_000, async () => (await queueDepth(stack, queueIdNamed(stack, '-intake'))) === 0);
    if (stack.logs.some((l) => l.function === 'producer' && isErrorLine(l))) problems.push('the producer logged an error for a vanished file');
  });

  await scenario('an unreadable file is moved aside', async (problems) => {
    await stack.drop('items/s7-broken.parquet', Buffer.from('this is not a parquet file at all'));
    const inbox = Object.values(stack.buckets).find((b) => b.includes('inbox'))!;
    const moved = await until('the file to be moved aside', 60_000, async () => {
      const list = await stack.s3.send(new ListObjectsV2Command({ Bucket: inbox, Prefix: 'rejected/' }));
      return (list.Contents ?? []).find((o) => o.Key!.includes('s7-broken.parquet'));
    });
    // The copy comes first, the delete marker over the original last (after the reason, the
    // manifest and the file notice): wait for it rather than look the moment the copy appears.
    const gone = await until('the original to be removed', 60_000, async () => {
      const original = await stack.s3.send(new ListObjectsV2Command({ Bucket: inbox, Prefix: 'items/s7-broken.parquet' }));
      return (original.Contents ?? []).length === 0;
    }).catch(() => false);
    if (!gone) problems.push('the unreadable file is still in the inbox');
    if (!moved) problems.push('nothing under rejected/');
  });

  await scenario('a cold-start failure logs one structured line', async (problems) => {
    // The replay and the producer, each without a variable of its contract: every record fails,
    // each with one structured line naming the variable, and each counts a failed record.
    for (const kind of ['replay', 'producer'] as const) {
      const env = stack.environmentOf(kind, { LANDFALL_STAGING_BUCKET: undefined });
      const lines: LogLine[] = [];
      const pool = functionPool({ ...stack.functions[kind].spec, environment: env }, (l) => lines.push(l));
      try {
        // Any SQS event will do: the cold start fails before a record is read.
        const event = stack.consumerEvents[0];
        if (!event) throw new Error('no batch reached the consumer to send again (an earlier scenario failed)');
        if ((await failedRecords(pool, event)) !== event.Records.length) problems.push(`${kind}: the records did not fail`);
        const errors = lines.filter(isErrorLine).filter((l) => !/All records failed processing/.test(l.text));
        if (errors.length !== event.Records.length) problems.push(`${kind}: ${errors.length} error lines for ${event.Records.length} failed records: ${lines.map((l) => l.text).join(' | ')}`);
        if (!errors.every((l) => l.text.includes('LANDFALL_STAGING_BUCKET'))) problems.push(`${kind}: the error line does not name the missing variable`);
      } finally {
        await pool.stop();
        // Its metrics and log lines are checked with the stack's (the failed-record alarms).
        stack.logs.push(...lines);
      }
    }
  });

  await scenario('a client that does not trust the certificate cannot connect', async (problems) => {
    const env = stack.environmentOf('consumer', { NODE_EXTRA_CA_CERTS: undefined });
    const lines: LogLine[] = [];
    const pool = functionPool({ ...stack.functions.consumer.spec, environment: { ...env, NODE_EXTRA_CA_CERTS: stack.certs.otherCaFile } }, (l) => lines.push(l));
    const refused = stack.proxy?.refusals.length ?? 0;
    try {
      const event = stack.consumerEvents[0];
      if (!event) throw new Error('no batch reached the consumer to send again (an earlier scenario failed)');
      if ((await failedRecords(pool, event)) === 0) problems.push('the consumer connected although it cannot verify the server certificate');
      if (!lines.some((l) => isErrorLine(l) && /certificate/i.test(l.text))) problems.push(`no error line names the certificate: ${lines.map((l) => l.text).join(' | ').slice(0, 400)}`);
      // The proxy saw the client give up during the handshake; those refusals are this check's.
      if (stack.proxy) {
        // The proxy hears of the client's alert on its own socket, which may come after the invocation's answer under load.
        const proxy = stack.proxy;
        const heard = await until('a refused handshake', 5_000, async () => proxy.refusals.length > refused).catch(() => false);
        if (!heard) problems.push('the database proxy saw no refused handshake');
        stack.proxy.refusals.splice(refused);
      }
    } finally {
      await pool.stop();
      stack.logs.push(...lines);
    }
  });

  // Scenarios of their own modules (rehearse/continuation-scenarios.ts), with the same oracle and checks.
  for (const more of extra) await more({ stack, sql, oracle, scenario });

  return results;
}

export function isErrorLine(line: LogLine): boolean {
  try {
    const json = JSON.parse(line.text) as { level?: string };
    return json.level === 'ERROR';
  } catch {
    return false;
  }
}
