import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { BatchData, FileIdentity } from './batch.ts';
import type { TextFormat } from './read/read-csv.ts';
import type { FileFormat } from './read/file-format.ts';

/**
 * The SQS FIFO message body for one batch. The rows themselves live in the staging object
 * (`stagingKey`, gzip JSON of `BatchData`); the message only points at it.
 * MessageGroupId = `<table>#<partition>`, MessageDeduplicationId = `batchId`.
 */
export interface BatchMessage {
  format: 1;
  batchId: string;
  fileId: string;
  table: string;
  partition: number;
  /** Chunk index within the partition; a partition's messages are sent in chunk order. */
  chunk: number;
  /**
   * Total batches of the file (all partitions); null on a message sent while the file was still
   * being read (before its manifest): such a message never registers or completes the file.
   */
  batchCount: number | null;
  /** Key of the batch object in the staging bucket. */
  stagingKey: string;
  /** Key of the file manifest in the staging bucket. */
  manifestKey: string;
  /** Rows in the batch. */
  rows: number;
  /** First and last 1-based data row number of the file in the batch. */
  firstRow: number;
  lastRow: number;
}

/** One batch as the manifest lists it. */
export interface ManifestBatch {
  batchId: string;
  partition: number;
  chunk: number;
  stagingKey: string;
  rows: number;
  firstRow: number;
  lastRow: number;
}

export const FileStatus = {
  /** Batches written and sent; the consumer applies them. */
  produced: 'produced',
  /**
   * Being read: some batches may be written and sent already. Records the chunking settings, so
   * a retry after a crash cuts the same batches under the same ids.
   */
  producing: 'producing',
  /** The file could not be read at all; it was moved to the inbox's rejected prefix. */
  movedAside: 'moved-aside',
} as const;
export type FileStatus = (typeof FileStatus)[keyof typeof FileStatus];

/**
 * The file manifest in the staging bucket (`manifests/<table>/<fileId>.json`): what the
 * producer made of one file. The final one (`produced`) is written after every batch object
 * and before every message that carries `batchCount`, so a consumer that sees such a message
 * can always read it. `read = rejected + rows in batches`.
 */
export interface FileManifest {
  format: 1;
  fileId: string;
  file: FileIdentity;
  table: string;
  status: FileStatus;
  /** Arrival of the file (`fileArrivalOf`), as stamped on every batch. */
  arrival: string;
  fileFormat: FileFormat | null;
  /** Delimited text: the delimiter and encoding it was read with (absent in manifests of earlier versions). */
  textFormat?: TextFormat | null;
  compressed: boolean;
  /** Table column names the batches carry (after the config's mapping). */
  columns: string[];
  batchCount: number;
  /** Data rows read, including rejected ones. */
  read: number;
  rejected: number;
  /** Where rejected rows were written (inbox bucket, NDJSON), or null when there are none. */
  rejects: { bucket: string; key: string } | null;
  /** The first rejected rows themselves (at most MANIFEST_REJECTS), for the ledger's `rejects` view. */
  rejectsListed?: RejectedRow[];
  batches: ManifestBatch[];
  /** Set when status is `moved-aside`. */
  reason: { code: string; message: string; movedTo: { bucket: string; key: string }; line?: number | null; field?: string | null } | null;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  /** The settings the batches were cut with (absent in manifests written before they were recorded). */
  chunking?: ChunkingSettings;
  /**
   * Batch messages sent after this manifest, with the count; 0 when every batch went out while
   * the file was read and the file notice registers the file instead. Absent before it was recorded.
   */
  sentAfterManifest?: number;
  /** Invocations the file took (more than one when it was continued). */
  invocations?: number;
}

/** What decides where a file's batches are cut. */
export interface ChunkingSettings {
  partitions: number;
  maxRows: number;
  maxBytes: number;
  maxBufferedBytes: number;
  /** Input bytes per segment (each segment's end cuts every partition's batch); absent before it was recorded. */
  segmentBytes?: number;
}

/** Rejected rows a manifest carries inline (the rejects object lists more). */
export const MANIFEST_REJECTS = 1000;

/** One line of a rejects object (NDJSON). */
export interface RejectedRow {
  file: { bucket: string; key: string; versionId: string | null; etag: string };
  fileId: string;
  /** 1-based data row number (the header is not a row). */
  row: number;
  /** 1-based physical line where the row starts. */
  line: number;
  reason: string;
  /** The row's text, cut to a safe length. */
  raw: string;
  truncated: boolean;
}

const batchMessageSchema = z.strictObject({
  format: z.literal(1),
  batchId: z.string().min(1).max(128),
  fileId: z.string().min(1),
  table: z.string().min(1),
  partition: z.number().int().min(0),
  chunk: z.number().int().min(0),
  batchCount: z.number().int().min(1).nullable(),
  stagingKey: z.string().min(1),
  manifestKey: z.string().min(1),
  rows: z.number().int().min(1),
  firstRow: z.number().int().min(1),
  lastRow: z.number().int().min(1),
});

export class BatchMessageError extends Error {
  override name = 'BatchMessageError';
}

/**
 * The FIFO message for a file that has no batch (moved aside, or every row rejected, or no
 * rows): the consumer registers it from its manifest, so every file has a ledger row, in AWS
 * as locally, although the producer never touches the database.
 */
export interface FileNotice {
  format: 1;
  kind: 'file';
  fileId: string;
  /** The table it was routed to, or '' when its key is under no configured prefix. */
  table: string;
  manifestKey: string;
}

const fileNoticeSchema = z.strictObject({
  format: z.literal(1),
  kind: z.literal('file'),
  fileId: z.string().min(1),
  table: z.string(),
  manifestKey: z.string().min(1),
});

export type QueueMessage = BatchMessage | FileNotice;

/** Table name of the manifests of files routed to no table. */
export const UNROUTED_TABLE = '_unrouted';

function parseWith<T>(body: string, what: string, parse: (json: unknown) => ReturnType<z.ZodType<T>['safeParse']>): T {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    throw new BatchMessageError(`${what} is not JSON: ${(error as Error).message}`, { cause: error });
  }
  const result = parse(json);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.map(String).join('.') || '(top level)'}: ${i.message}`);
    throw new BatchMessageError(`invalid ${what}: ${problems.join('; ')}`);
  }
  return result.data;
}

/** Parses and validates an SQS message body; errors name the field. */
export function parseBatchMessage(body: string): BatchMessage {
  return parseWith(body, 'batch message', (json) => batchMessageSchema.safeParse(json));
}

/** A message of the batches queue: a batch, or a file notice (`kind: "file"`). */
export function parseQueueMessage(body: string): QueueMessage {
  if (/"kind"\s*:\s*"file"/.test(body)) return parseWith(body, 'file notice', (json) => fileNoticeSchema.safeParse(json));
  return parseBatchMessage(body);
}

/** A file notice's deduplication id: one per production of the file (registering is idempotent). */
export function fileNoticeDeduplicationId(fileId: string, producedAt: string): string {
  return createHash('sha256').update(`file-notice\0${fileId}\0${producedAt}`).digest('hex').slice(0, 64);
}

/** The deduplication id of the notice a producer sends when it picks a file up (its opening manifest): `opened-` and a hash. */
export function openingNoticeDeduplicationId(fileId: string, startedAt: string): string {
  return `opened-${createHash('sha256').update(`file-opened\0${fileId}\0${startedAt}`).digest('hex').slice(0, 64)}`;
}

/**
 * The FIFO message group of a table partition: `<table>#<partition>`. A MessageGroupId allows
 * only printable ASCII and 128 characters, so a table name outside that is replaced by a
 * stable hash of it.
 */
export function messageGroupOf(table: string, partition: number): string {
  const name = /^[\x21-\x7e]{1,100}$/.test(table) ? table : `t-${createHash('sha256').update(table).digest('hex').slice(0, 24)}`;
  return `${name}#${partition}`;
}

/**
 * The FIFO message of a batch object: what the producer sends and what `landfall replay` and
 * the tests rebuild (`batchCount` null while the file is still being read).
 */
export function batchMessageOf(
  batch: Pick<BatchData, 'batchId' | 'fileId' | 'table' | 'partition' | 'chunk' | 'rowNumbers'>,
  at: { stagingKey: string; manifestKey: string; batchCount: number | null },
): BatchMessage {
  const rows = { rows: batch.rowNumbers.length, firstRow: batch.rowNumbers[0] ?? 1, lastRow: batch.rowNumbers.at(-1) ?? 1 };
  return manifestBatchMessageOf(batch, { batchId: batch.batchId, partition: batch.partition, chunk: batch.chunk, stagingKey: at.stagingKey, ...rows }, at);
}

/** The FIFO message of a batch as its file's manifest lists it: the one builder the producer, replay and the tests share. */
export function manifestBatchMessageOf(file: { fileId: string; table: string }, b: ManifestBatch, at: { manifestKey: string; batchCount: number | null }): BatchMessage {
  return {
    format: 1,
    batchId: b.batchId,
    fileId: file.fileId,
    table: file.table,
    partition: b.partition,
    chunk: b.chunk,
    batchCount: at.batchCount,
    stagingKey: b.stagingKey,
    manifestKey: at.manifestKey,
    rows: b.rows,
    firstRow: b.firstRow,
    lastRow: b.lastRow,
  };
}
