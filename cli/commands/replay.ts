import type { Command } from 'commander';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { EnvVar } from '../../shared/environment/env.ts';
import type { BatchCounts, BatchData } from '../../shared/core/batch.ts';
import { type BatchMessage, batchMessageOf, type FileManifest } from '../../shared/core/batch-message.ts';
import { stagingReader } from '../../shared/aws/consumer-ports.ts';
import { type BatchPorts, replayBatchMessage } from '../../shared/consumer/consume-batch.ts';
import type { Sql } from '../../shared/postgres/db.ts';
import { batchReceipts, type FileReceipt, fileReceipts, registeredManifests } from '../../shared/postgres/ledger/files.ts';
import { batchKeyOf, manifestKeyOf } from '../../shared/core/keys.ts';
import { listQuarantine, type QuarantinedRow } from '../../shared/postgres/quarantine-retry.ts';
import { CliError, resolveContext, type CliIo, type GlobalOptions, type RegisterCommand, examples } from '../context.ts';
import { formatQuarantineTable, n, plural, quarantineRecord, shortId } from '../format.ts';
import { asCliError, configuredTables, findLedgerBatch, ledgerExists, requireConfig } from '../ledger.ts';
import { devClients, landfallHome, openDatabaseWithFallback, readDevState } from '../local.ts';
import { openStaging } from '../staging.ts';
import { isS3NotFound } from '../../shared/aws/s3-object-store.ts';

export interface ReplayOptions extends GlobalOptions {
  json?: boolean;
}

/** What `replay` did with one batch. */
export interface ReplayReport {
  batchId: string;
  fileId: string;
  file: string | null;
  table: string;
  partition: number;
  chunk: number;
  /** `already-applied`: the ledger had it applied; nothing was read or written. */
  outcome: 'replayed' | 'already-applied';
  counts: BatchCounts;
  /** The batch's open quarantined rows after the replay. */
  quarantined: QuarantinedRow[];
  /** The file's receipt after the replay. */
  fileReceipt: FileReceipt | null;
  /**
   * The parking queue afterwards: the parked messages deleted because their batches are applied
   * (this one's among them when it was parked), or why the queue was not looked at.
   */
  parking?: { queue: string; deleted: string[]; kept: number } | { skipped: string };
}

/**
 * The parking queue: LANDFALL_PARKING_QUEUE_URL with AWS clients from the environment (the
 * stack's ParkingQueueUrl output), else the running `landfall dev`'s; null when neither is there.
 */
async function openParking(env: CliIo['env']): Promise<{ sqs: SQSClient; url: string; close(): void } | null> {
  const url = env[EnvVar.parkingQueueUrl];
  if (url) {
    // Loaded when used, as cli/staging.ts does: the AWS SDK is not part of the CLI's start-up.
    const { awsClientOptionsFromEnv, createSqsClient } = await import('../../shared/aws/clients.ts');
    const sqs = createSqsClient(awsClientOptionsFromEnv(env));
    return { sqs, url, close: () => sqs.destroy() };
  }
  const dev = readDevState(landfallHome(env));
  if (!dev) return null;
  const { s3, sqs } = await devClients(dev);
  s3.destroy();
  return { sqs, url: dev.queues.parking, close: () => sqs.destroy() };
}

/** Deletes the parked messages of applied batches (this one's, once it is applied); never fails the replay. */
async function cleanParking(sql: Sql, env: CliIo['env']): Promise<NonNullable<ReplayReport['parking']>> {
  const parking = await openParking(env);
  if (!parking) return { skipped: `set ${EnvVar.parkingQueueUrl} (the stack's ParkingQueueUrl output) to have a parked message of the batch deleted` };
  try {
    const { deleteAppliedParkedMessages } = await import('../../shared/aws/parking.ts');
    const result = await deleteAppliedParkedMessages(parking.sqs, parking.url, async (batchId) => (await findLedgerBatch(sql, batchId))?.status === 'applied');
    return { queue: parking.url, ...result };
  } catch (error) {
    return { skipped: `could not look at the parking queue ${parking.url}: ${(error as Error).message}` };
  } finally {
    parking.close();
  }
}

/** Where a batch's object and its file's manifest are, found from the ledger or the manifests. */
interface BatchLocation {
  batchId: string;
  fileId: string;
  table: string;
  partition: number;
  chunk: number;
  manifestKey: string;
  manifest: FileManifest;
  stagingKey: string;
}

type Reader = ReturnType<typeof stagingReader>;

async function readManifestAt(reader: Reader, bucket: string, key: string): Promise<FileManifest> {
  try {
    return await reader.readManifest(key);
  } catch (error) {
    throw new CliError(`could not read the manifest s3://${bucket}/${key}: ${(error as Error).message}`, 2, { cause: error });
  }
}

/**
 * A batch with a ledger row (poisoned, say): its file's manifest names the batch object; a
 * manifest that does not list its batches falls back to the producer's deterministic key.
 */
async function locateFromLedger(sql: Sql, reader: Reader, bucket: string, b: { batchId: string; fileId: string; table: string; partition: number; chunk: number }): Promise<BatchLocation> {
  const [file] = await registeredManifests(sql, { fileId: b.fileId });
  const manifestKey = file?.manifestKey ?? manifestKeyOf(b.table, b.fileId);
  const manifest = await readManifestAt(reader, bucket, manifestKey);
  const listed = manifest.batches.find((m) => m.batchId === b.batchId);
  return { ...b, manifestKey, manifest, stagingKey: listed?.stagingKey ?? batchKeyOf(b.table, b.fileId, b.partition, b.chunk) };
}

/**
 * A batch the consumer never recorded (its message still queued or lost): searched in the
 * manifests of the registered files, newest first. Manifests that are gone (expired) are skipped.
 */
async function locateInManifests(sql: Sql, reader: Reader, idOrPrefix: string): Promise<BatchLocation | null> {
  const files = await registeredManifests(sql);
  const found: BatchLocation[] = [];
  for (const f of files) {
    const manifestKey = f.manifestKey ?? manifestKeyOf(f.table, f.fileId);
    const manifest = await reader.readManifest(manifestKey).catch((error: unknown) => {
      if (isS3NotFound(error)) return null;
      throw error;
    });
    for (const m of manifest?.batches ?? []) {
      if (m.batchId === idOrPrefix || (idOrPrefix.length >= 6 && m.batchId.startsWith(idOrPrefix))) {
        found.push({ batchId: m.batchId, fileId: f.fileId, table: f.table, partition: m.partition, chunk: m.chunk, manifestKey, manifest: manifest!, stagingKey: m.stagingKey });
      }
    }
    if (found.some((l) => l.batchId === idOrPrefix)) break;
  }
  const exact = found.find((l) => l.batchId === idOrPrefix);
  if (exact) return exact;
  if (found.length > 1) throw new CliError(`batch "${idOrPrefix}" is ambiguous: ${found.map((l) => l.batchId).join(', ')}; give more of the id`, 2);
  return found[0] ?? null;
}

/** The message the consumer got for this batch, rebuilt from the manifest and the batch object. */
function messageOf(location: BatchLocation, batch: BatchData): BatchMessage {
  return batchMessageOf({ ...location, rowNumbers: batch.rowNumbers }, { stagingKey: location.stagingKey, manifestKey: location.manifestKey, batchCount: location.manifest.batchCount });
}

async function afterwards(sql: Sql, b: { batchId: string; fileId: string }) {
  const [fileReceipt] = await fileReceipts(sql, { fileIds: [b.fileId] });
  return { quarantined: await listQuarantine(sql, { batchId: b.batchId }), fileReceipt: fileReceipt ?? null };
}

async function replay(sql: Sql, batchArg: string, options: ReplayOptions, io: CliIo): Promise<ReplayReport> {
  if (!(await ledgerExists(sql))) throw new CliError(`no batch "${batchArg}": the database has no Landfall ledger yet`, 2);
  const recorded = await findLedgerBatch(sql, batchArg);
  if (recorded?.status === 'applied') {
    // Applied is final (rule 3): replaying would commit nothing, and the batch object may have expired.
    const counts = (await batchReceipts(sql, recorded.fileId)).find((b) => b.batchId === recorded.batchId)!;
    const { fileReceipt, quarantined } = await afterwards(sql, recorded);
    return { ...recorded, file: fileReceipt?.file ?? null, outcome: 'already-applied', counts: pickCounts(counts), quarantined, fileReceipt };
  }

  const config = requireConfig(options, io, 'replay');
  const staging = await openStaging(io.env);
  try {
    const reader = stagingReader(staging.s3, staging.bucket);
    const location = recorded ? await locateFromLedger(sql, reader, staging.bucket, recorded) : await locateInManifests(sql, reader, batchArg);
    if (!location) throw new CliError(`no batch "${batchArg}" in the ledger or in the manifests of the registered files`, 2);
    let batch: BatchData;
    try {
      batch = await reader.readBatch(location.stagingKey);
    } catch (error) {
      throw new CliError(`could not read the batch object s3://${staging.bucket}/${location.stagingKey}: ${(error as Error).message}`, 2, { cause: error });
    }
    if (batch.batchId !== location.batchId) {
      throw new CliError(`s3://${staging.bucket}/${location.stagingKey} holds batch ${batch.batchId}, not ${location.batchId}`, 2);
    }
    const ports: BatchPorts = {
      sql,
      table: configuredTables(sql, config),
      // A one-shot command reads each catalog once anyway.
      forgetTable: () => {},
      // Read once above; the replay path gets the same object.
      readBatch: (key) => (key === location.stagingKey ? Promise.resolve(batch) : reader.readBatch(key)),
      readManifest: (key) => (key === location.manifestKey ? Promise.resolve(location.manifest) : reader.readManifest(key)),
      tagApplied: reader.tagApplied,
      sendToDlq: () => Promise.reject(new Error('replay never sends to the DLQ')),
    };
    const outcome = await replayBatchMessage(ports, messageOf(location, batch));
    if (outcome.outcome !== 'replayed' && outcome.outcome !== 'already-applied') {
      throw new CliError(`replay of batch ${location.batchId} ended ${outcome.outcome}`, 2);
    }
    const { fileReceipt, quarantined } = await afterwards(sql, location);
    const { batchId, fileId, table, partition, chunk } = location;
    return { batchId, fileId, file: fileReceipt?.file ?? location.manifest.file.key, table, partition, chunk, outcome: outcome.outcome, counts: outcome.counts, quarantined, fileReceipt };
  } finally {
    staging.close();
  }
}

function pickCounts(c: BatchCounts): BatchCounts {
  const { read, collapsed, inserted, updated, unchanged, stale, deleted, quarantined } = c;
  return { read, collapsed, inserted, updated, unchanged, stale, deleted, quarantined };
}

function formatReplay(r: ReplayReport): string {
  const c = r.counts;
  const where = `batch ${r.batchId} (${r.table}, partition ${r.partition}, chunk ${r.chunk}${r.file ? `, file ${r.file}` : ''})`;
  const lines = [
    r.outcome === 'replayed' ? `Replayed ${where}.` : `${where[0]!.toUpperCase()}${where.slice(1)} was already applied; nothing changed.`,
    `  read ${n(c.read)} = collapsed ${n(c.collapsed)} + inserted ${n(c.inserted)} + updated ${n(c.updated)} + unchanged ${n(c.unchanged)} + stale ${n(c.stale)} + deleted ${n(c.deleted)} + quarantined ${n(c.quarantined)}`,
  ];
  if (r.quarantined.length) {
    lines.push('', `${plural(r.quarantined.length, 'row')} of this batch in the quarantine:`, formatQuarantineTable(r.quarantined));
    lines.push('', `After fixing the cause: landfall quarantine retry --batch ${shortId(r.batchId)}`);
  }
  if (r.fileReceipt) {
    const f = r.fileReceipt;
    lines.push(`File ${f.file} is ${f.state}: ${n(f.batchesApplied)} of ${f.batches === null ? '? batches (still being read)' : plural(f.batches, 'batch', 'batches')} applied.`);
  }
  if (r.parking && 'skipped' in r.parking) lines.push(`Parking queue not looked at: ${r.parking.skipped}.`);
  else if (r.parking) {
    const own = r.parking.deleted.includes(r.batchId);
    const others = r.parking.deleted.length - (own ? 1 : 0);
    lines.push(
      `${own ? 'Deleted its message from the parking queue' : 'No message of it in the parking queue'}` +
        `${others > 0 ? `; also deleted ${plural(others, 'parked message')} of batches already applied` : ''}` +
        `${r.parking.kept > 0 ? `; ${plural(r.parking.kept, 'other parked message')} left (not applied yet)` : ''}.`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * `landfall replay BATCH`: re-runs one batch (id, or a unique prefix) through the replay path:
 * bad rows quarantined, the rest applied, in one exactly-once transaction. An applied batch is
 * reported and left alone. Returns 0; throws CliError (exit 2) when it cannot replay.
 */
export async function replayCommand(batchArg: string, options: ReplayOptions, io: CliIo): Promise<number> {
  let report: ReplayReport;
  try {
    const db = await openDatabaseWithFallback(resolveContext(options, io.env), io.env);
    try {
      report = await replay(db.sql, batchArg, options, io);
      report.parking = await cleanParking(db.sql, io.env);
    } finally {
      await db.close();
    }
  } catch (error) {
    throw asCliError(error, `replay ${batchArg}`);
  }
  if (options.json) io.stdout.write(`${JSON.stringify({ ...report, quarantined: report.quarantined.map(quarantineRecord) }, null, 2)}\n`);
  else io.stdout.write(formatReplay(report));
  return 0;
}

export const register: RegisterCommand = (program: Command, { io, setExitCode }) => {
  program
    .command('replay <batch>')
    .description('re-run one batch (id, or the prefix status shows) through the replay path: bad rows quarantined, the rest applied (exit 0, 2 could not replay)')
    .option('--json', 'machine-readable result')
    .addHelpText('after', examples(['landfall status orders/2026-11-01.csv        # shows the batch ids (12 characters)', 'landfall replay 3f2a9c1b07de --config landfall.json']))
    .action(async (batch: string, _options: unknown, command: Command) => {
      setExitCode(await replayCommand(batch, command.optsWithGlobals<ReplayOptions>(), io));
    });
};
