import { batchIdOf, fileArrivalOf, fileIdOf, type FileIdentity } from '../core/batch.ts';
import { type ChunkingSettings, FileStatus, fileNoticeDeduplicationId, MANIFEST_REJECTS, messageGroupOf, UNROUTED_TABLE, type BatchMessage, type FileManifest, type ManifestBatch, type RejectedRow } from '../core/batch-message.ts';
import { findTableForKey, type LandfallConfig, type TableConfig } from '../core/config.ts';
import { encodeBatch, type BatchToEncode } from './batch-object.ts';
import { PartitionChunker, type Chunk } from '../core/chunker.ts';
import { keyTypesOf } from '../core/catalog-snapshot.ts';
import { canonicalizerFor, type KeyCanonicalizer } from '../core/canonical-key.ts';
import type { CatalogSource } from './catalog-source.ts';
import { planColumns, type ColumnPlan } from '../core/column-plan.ts';
import { UnreadableFileError, UnreadableReason } from '../core/read/errors.ts';
import { fileTypeOfKey, isGzip, isParquetMagic, type FileFormat } from '../core/read/file-format.ts';
import { batchKeyOf, isRejectedKey, manifestKeyOf, movedAsideKeysOf, rejectsKeyOf } from '../core/keys.ts';
import { rowPartitioner } from '../core/partition.ts';
import type { BatchSender, ObjectRef, ObjectStore, OutgoingBatch, ProducerLogger } from './ports.ts';
import { readCsvEvents } from '../core/read/read-csv.ts';
import { readNdjson } from '../core/read/read-ndjson.ts';
import { readParquet } from '../core/read/read-parquet.ts';
import { MAX_REJECT_RAW_CHARS, type SourceEvent } from '../core/read/records.ts';
import { gunzipStream, openTextStream } from './source.ts';
import { spillToTempFile } from './temp-file.ts';

export interface ProducerLimits {
  /** Estimated bytes of rows buffered across partitions before the largest is cut early. */
  maxBufferedBytes: number;
  /** Batch objects being compressed and uploaded at once. */
  uploadConcurrency: number;
  /** Rejected rows written to the rejects object; more are only counted. */
  maxRejectsListed: number;
}

export const DEFAULT_PRODUCER_LIMITS: ProducerLimits = {
  maxBufferedBytes: 48 * 1024 * 1024,
  uploadConcurrency: 2,
  maxRejectsListed: 10_000,
};

export interface ProducerDeps {
  config: LandfallConfig;
  store: ObjectStore;
  sender: BatchSender;
  stagingBucket: string;
  logger?: ProducerLogger;
  /**
   * The tables' catalog snapshots. With one, a header that does not fit the table is refused
   * whole and rows are partitioned on the canonical form of their key; without one (no
   * consumer has read the catalog yet) every row of the file goes to partition 0.
   */
  catalog?: CatalogSource;
  limits?: Partial<ProducerLimits>;
  now?: () => Date;
  /** Where a gzip-compressed Parquet file is spilled to be read (default: the OS temp dir). */
  tmpDir?: string;
}

export type ProduceOutcome =
  | { status: 'produced'; fileId: string; manifestKey: string; manifest: FileManifest }
  | {
      status: 'moved-aside';
      fileId: string;
      code: UnreadableReason;
      message: string;
      movedTo: { bucket: string; key: string };
      manifestKey: string | null;
    }
  /** The notified version no longer exists (overwritten or deleted); nothing to do. */
  | { status: 'gone'; fileId: string }
  /** A key the producer itself wrote (under `rejected/`). */
  | { status: 'ignored'; fileId: string; why: string };

const silent: ProducerLogger = { info() {}, warn() {} };

/** Runs upload tasks a few at a time; the first failure is rethrown. */
class TaskPool {
  readonly #limit: number;
  readonly #running = new Set<Promise<void>>();
  #failure: { error: unknown } | undefined;
  constructor(limit: number) {
    this.#limit = Math.max(1, limit);
  }
  async submit(task: () => Promise<void>): Promise<void> {
    while (this.#running.size >= this.#limit) await Promise.race(this.#running);
    if (this.#failure) throw this.#failure.error;
    const running: Promise<void> = task()
      .catch((error: unknown) => {
        this.#failure ??= { error };
      })
      .finally(() => this.#running.delete(running));
    this.#running.add(running);
  }
  /** Waits for the running tasks, ignoring their failures (before cleaning up after an error). */
  async settle(): Promise<void> {
    await Promise.allSettled(this.#running);
  }
  async drain(): Promise<void> {
    await Promise.all(this.#running);
    if (this.#failure) throw this.#failure.error;
  }
}

function refOf(file: FileIdentity): ObjectRef {
  return { bucket: file.bucket, key: file.key, versionId: file.versionId, etag: file.etag };
}

function cut(text: string): { raw: string; truncated: boolean } {
  return text.length > MAX_REJECT_RAW_CHARS ? { raw: text.slice(0, MAX_REJECT_RAW_CHARS), truncated: true } : { raw: text, truncated: false };
}

interface Opened {
  format: FileFormat;
  compressed: boolean;
  /** In file order; a reader may yield several at once (CSV yields those of each piece read). */
  events: AsyncIterable<SourceEvent | readonly SourceEvent[]>;
  close(): Promise<void>;
}

async function openFile(deps: ProducerDeps, file: FileIdentity): Promise<Opened | 'gone'> {
  const type = fileTypeOfKey(file.key);
  const ref = refOf(file);
  if (type.format !== 'parquet') {
    const stream = await deps.store.stream(ref);
    if (stream === 'gone') return stream;
    const { stream: text, compressed } = await openTextStream(stream, type);
    return {
      format: type.format,
      compressed,
      events: type.format === 'csv' ? readCsvEvents(text) : readNdjson(text),
      close: async () => {},
    };
  }
  const object = await deps.store.randomAccess(ref);
  if (object === 'gone') return object;
  const head = new Uint8Array(await object.slice(0, Math.min(4, object.byteLength)));
  if (isGzip(head)) {
    const stream = await deps.store.stream(ref);
    if (stream === 'gone') return stream;
    const spilled = await spillToTempFile(gunzipStream(stream), deps.tmpDir);
    const inner = new Uint8Array(await spilled.slice(0, Math.min(4, spilled.byteLength)));
    if (!isParquetMagic(inner)) {
      await spilled.close();
      throw new UnreadableFileError(UnreadableReason.wrongFormat, 'named .parquet but the data is not Parquet');
    }
    return { format: 'parquet', compressed: true, events: readParquet(spilled), close: () => spilled.close() };
  }
  if (type.gzipByName && head.length > 0) throw new UnreadableFileError(UnreadableReason.corruptGzip, 'named .gz but the data is not gzip');
  if (object.byteLength === 0) throw new UnreadableFileError(UnreadableReason.empty, 'empty file');
  if (!isParquetMagic(head)) throw new UnreadableFileError(UnreadableReason.wrongFormat, 'named .parquet but the data is not Parquet');
  return { format: 'parquet', compressed: false, events: readParquet(object), close: async () => {} };
}

/**
 * Produces one dropped file: streams it, partitions its rows by conflict key, writes each
 * chunk as a zstd JSON batch object to staging, then the rejects object and the manifest,
 * then sends one FIFO message per batch. Deterministic: the same file version always gives
 * the same keys, bytes and ids, so a duplicate notification or a retry after a crash
 * changes nothing. An unreadable file is moved aside with a reason instead.
 *
 * @example await produceFile({ config, store, sender, stagingBucket }, fileIdentity)
 */
export async function produceFile(deps: ProducerDeps, file: FileIdentity): Promise<ProduceOutcome> {
  const fileId = fileIdOf(file);
  const logger = deps.logger ?? silent;
  if (isRejectedKey(file.key)) return { status: 'ignored', fileId, why: 'key under the rejected/ prefix' };
  const table = findTableForKey(deps.config, file.key);
  if (!table) {
    const prefixes = deps.config.tables.map((t) => `"${t.prefix}"`).join(', ');
    return moveAside(deps, file, fileId, undefined, new UnreadableFileError(UnreadableReason.noTable, `key is under no configured table prefix (${prefixes})`));
  }
  const written: string[] = [];
  try {
    return await produceTableFile(deps, file, fileId, table, written);
  } catch (error) {
    if (!(error instanceof UnreadableFileError)) throw error;
    try {
      await deps.store.removeKeys(deps.stagingBucket, written);
    } catch (cleanup) {
      logger.warn('could not remove the batch objects of an unreadable file', { fileId, error: String(cleanup) });
    }
    return moveAside(deps, file, fileId, table, error);
  }
}

/** The message of a file without batches (moved aside, empty, every row rejected): the consumer registers it from its manifest. */
function fileNoticeOf(manifest: FileManifest, manifestKey: string): OutgoingBatch {
  return {
    groupId: messageGroupOf(manifest.table || UNROUTED_TABLE, 0),
    deduplicationId: fileNoticeDeduplicationId(manifest.fileId, manifest.finishedAt),
    body: { format: 1, kind: 'file', fileId: manifest.fileId, table: manifest.table, manifestKey },
  };
}

/** The messages of a produced file: one per batch in the order given, or its file notice when it has none. */
function finalMessagesOf(manifest: FileManifest, manifestKey: string, batches: readonly ManifestBatch[]): OutgoingBatch[] {
  return manifest.batches.length === 0 ? [fileNoticeOf(manifest, manifestKey)] : messagesOf(manifest.fileId, manifest.table, batches, manifest.batchCount, manifestKey);
}

/** One FIFO message per batch, in the order given; `batchCount` null while the file is still being read. */
function messagesOf(fileId: string, table: string, batches: readonly ManifestBatch[], batchCount: number | null, manifestKey: string): OutgoingBatch[] {
  return batches.map((b) => {
    const body: BatchMessage = {
      format: 1,
      batchId: b.batchId,
      fileId,
      table,
      partition: b.partition,
      chunk: b.chunk,
      batchCount,
      stagingKey: b.stagingKey,
      manifestKey,
      rows: b.rows,
      firstRow: b.firstRow,
      lastRow: b.lastRow,
    };
    return { groupId: messageGroupOf(table, b.partition), deduplicationId: b.batchId, body };
  });
}

/**
 * Sends batch messages while the file is still being read: a partition's messages in chunk
 * order, each once its object is written, one send at a time. The newest released message is
 * always held back, so at least one goes out after the manifest, with the batch count: the
 * consumer registers (and can complete) a file only from such a message, never before its
 * manifest exists.
 */
class StreamingSender {
  readonly #written = new Map<number, Map<number, ManifestBatch>>();
  readonly #next = new Map<number, number>();
  readonly #sent = new Set<string>();
  #held: ManifestBatch | null = null;
  #chain: Promise<void> = Promise.resolve();
  #failure: { error: unknown } | undefined;
  constructor(readonly send: (batches: ManifestBatch[]) => Promise<void>) {}

  /** Throws the first failed send, so the read stops instead of cutting batches it cannot announce. */
  written(batch: ManifestBatch): void {
    if (this.#failure) throw this.#failure.error;
    const chunks = this.#written.get(batch.partition) ?? new Map<number, ManifestBatch>();
    this.#written.set(batch.partition, chunks);
    chunks.set(batch.chunk, batch);
    const released: ManifestBatch[] = [];
    let next = this.#next.get(batch.partition) ?? 0;
    for (; chunks.has(next); next++) {
      released.push(chunks.get(next)!);
      chunks.delete(next);
    }
    this.#next.set(batch.partition, next);
    if (released.length === 0) return;
    const ready = [...(this.#held ? [this.#held] : []), ...released];
    this.#held = ready.pop()!;
    if (ready.length === 0) return;
    for (const b of ready) this.#sent.add(b.batchId);
    // Caught at once (a rejection left until flush() would be unhandled); later sends are skipped.
    this.#chain = this.#chain
      .then(() => (this.#failure ? undefined : this.send(ready)))
      .catch((error: unknown) => {
        this.#failure ??= { error };
      });
  }

  /** Waits for the sends so far; the first failure is thrown. */
  async flush(): Promise<void> {
    await this.#chain;
    if (this.#failure) throw this.#failure.error;
  }

  wasSent(batchId: string): boolean {
    return this.#sent.has(batchId);
  }
}

/**
 * What an earlier run left of this file. A file already produced (its final manifest is written
 * only after all its batch objects) is not cut again: its messages are sent again from the
 * manifest. A re-notification therefore gives the same batches even when `partitions` or the
 * batch limits changed in between, and a large file is not read twice. A run that stopped while
 * reading (a crash) left an opening manifest: the file is read again with the chunking it
 * recorded, so the batches it may have sent already are cut again the same.
 */
async function previousRun(deps: ProducerDeps, fileId: string, manifestKey: string): Promise<{ produced: ProduceOutcome } | { chunking: ChunkingSettings } | null> {
  const text = await deps.store.getText(deps.stagingBucket, manifestKey);
  if (text === null) return null;
  const manifest = JSON.parse(text) as FileManifest;
  if (manifest.fileId !== fileId) return null;
  if (manifest.status === FileStatus.producing && manifest.chunking) return { chunking: manifest.chunking };
  if (manifest.status !== FileStatus.produced) return null;
  await deps.sender.send(finalMessagesOf(manifest, manifestKey, manifest.batches));
  (deps.logger ?? silent).info('file already produced; its batch messages were sent again', { fileId, batches: manifest.batches.length });
  return { produced: { status: 'produced', fileId, manifestKey, manifest } };
}

interface HeaderPlan {
  plan: ColumnPlan;
  /** One per key column, or null: no snapshot, so the whole file goes to one partition. */
  canonicalizers: KeyCanonicalizer[] | null;
}

/**
 * Maps the header against the table's catalog snapshot. A header that does not fit the kept
 * snapshot is checked once more against a fresh one (an ALTER TABLE may have added the column).
 */
async function planHeader(deps: ProducerDeps, table: TableConfig, names: readonly string[]): Promise<HeaderPlan> {
  const evolve = table.schema === 'evolve';
  const plan = (snapshot: Awaited<ReturnType<CatalogSource['get']>>) =>
    planColumns(table, names, { ...(snapshot ? { knownColumns: new Set(snapshot.columns.map((c) => c.name)) } : {}), evolve });
  let snapshot = (await deps.catalog?.get(table.table)) ?? null;
  let columns: ColumnPlan;
  try {
    columns = plan(snapshot);
  } catch (error) {
    if (!(error instanceof UnreadableFileError) || error.code !== UnreadableReason.unknownColumn || !deps.catalog) throw error;
    snapshot = await deps.catalog.refresh(table.table);
    try {
      columns = plan(snapshot);
    } catch (again) {
      if (!(again instanceof UnreadableFileError) || again.code !== UnreadableReason.unknownColumn || !snapshot) throw again;
      throw new UnreadableFileError(again.code, `${again.message} (table columns as read from the catalog at ${snapshot.readAt})`, { field: again.field! });
    }
  }
  const keyTypes = snapshot ? keyTypesOf(snapshot, table) : null;
  return { plan: columns, canonicalizers: keyTypes?.map((k) => canonicalizerFor(k, snapshot!.timeZone)) ?? null };
}

async function produceTableFile(
  deps: ProducerDeps,
  file: FileIdentity,
  fileId: string,
  table: TableConfig,
  written: string[],
): Promise<ProduceOutcome> {
  const logger = deps.logger ?? silent;
  const now = deps.now ?? (() => new Date());
  const limits = { ...DEFAULT_PRODUCER_LIMITS, ...deps.limits };
  const startedAt = now();
  const arrival = fileArrivalOf(file);
  const manifestKey = manifestKeyOf(table.table, fileId);
  const previous = await previousRun(deps, fileId, manifestKey);
  if (previous && 'produced' in previous) return previous.produced;
  const chunking: ChunkingSettings = (previous && 'chunking' in previous ? previous.chunking : null) ?? {
    partitions: table.partitions,
    maxRows: deps.config.batch.maxRows,
    maxBytes: deps.config.batch.maxBytes,
    maxBufferedBytes: limits.maxBufferedBytes,
  };
  const opened = await openFile(deps, file);
  if (opened === 'gone') return { status: 'gone', fileId };
  let plan: ColumnPlan | undefined;
  let canonicalizers: KeyCanonicalizer[] | null = null;
  let chunker: PartitionChunker | undefined;
  let partitionRow: ((values: readonly (string | null)[]) => number) | null = null;
  let read = 0;
  let rejected = 0;
  const rejects: RejectedRow[] = [];
  const batches: ManifestBatch[] = [];
  const pool = new TaskPool(limits.uploadConcurrency);
  const fileRef = { bucket: file.bucket, key: file.key, versionId: file.versionId, etag: file.etag };
  const manifestOf = (status: FileStatus, batches: ManifestBatch[], read: number, rejected: number, rejectsRef: FileManifest['rejects'], finishedAt: Date): FileManifest => ({
    format: 1,
    fileId,
    file,
    table: table.table,
    status,
    arrival,
    fileFormat: opened.format,
    compressed: opened.compressed,
    columns: plan?.columns ?? [],
    batchCount: batches.length,
    read,
    rejected,
    rejects: rejectsRef,
    rejectsListed: rejects.slice(0, MANIFEST_REJECTS),
    batches,
    reason: null,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - startedAt.getTime(),
    chunking,
  });
  // Only an uncompressed CSV or NDJSON file streams its messages: nothing found later in it can
  // make the whole file unreadable (bad rows are rejects), whereas a gzip or Parquet file can
  // turn out corrupt at its end and must then be moved aside whole, never half applied.
  const streaming = !opened.compressed && opened.format !== 'parquet';
  const early = new StreamingSender((ready) => deps.sender.send(messagesOf(fileId, table.table, ready, null, manifestKey)));
  if (streaming) {
    await deps.store.put(deps.stagingBucket, manifestKey, JSON.stringify(manifestOf(FileStatus.producing, [], 0, 0, null, startedAt)), 'application/json');
  }

  const writeChunk = async (chunk: Chunk, columns: string[]) => {
    const batchId = batchIdOf(fileId, chunk.partition, chunk.chunk);
    const stagingKey = batchKeyOf(table.table, fileId, chunk.partition, chunk.chunk);
    const batch: BatchToEncode = {
      format: 1,
      batchId,
      fileId,
      file,
      table: table.table,
      partition: chunk.partition,
      chunk: chunk.chunk,
      arrival,
      columns,
      rowNumbers: chunk.rowNumbers,
      values: chunk.columns,
    };
    const body = await encodeBatch(batch);
    written.push(stagingKey);
    await deps.store.put(deps.stagingBucket, stagingKey, body, 'application/json');
    const listed: ManifestBatch = {
      batchId,
      partition: chunk.partition,
      chunk: chunk.chunk,
      stagingKey,
      rows: chunk.rowNumbers.length,
      firstRow: chunk.rowNumbers[0]!,
      lastRow: chunk.rowNumbers.at(-1)!,
    };
    batches.push(listed);
    if (streaming) early.written(listed);
  };

  try {
    for await (const item of opened.events) for (const event of Array.isArray(item) ? item : [item]) {
      if (event.kind === 'row') {
        read++;
        const values = event.values;
        const partition = partitionRow ? partitionRow(values) : 0;
        const ready = chunker!.add(partition, event.row, values);
        for (const chunk of ready) await pool.submit(() => writeChunk(chunk, plan!.columns));
      } else if (event.kind === 'reject') {
        read++;
        rejected++;
        if (rejects.length < limits.maxRejectsListed) {
          rejects.push({ file: fileRef, fileId, row: event.row, line: event.line, reason: event.reason, ...cut(event.raw) });
        }
      } else {
        ({ plan, canonicalizers } = await planHeader(deps, table, event.names));
        if (!canonicalizers && chunking.partitions > 1) {
          logger.warn('no catalog snapshot of the table yet: the whole file goes to partition 0, so its ties still follow the winner rule', { fileId, table: table.table });
        }
        partitionRow = canonicalizers ? rowPartitioner(canonicalizers, plan.keyIndexes, chunking.partitions) : null;
        chunker = new PartitionChunker(plan.columns.length, chunking);
      }
    }
    for (const chunk of chunker?.finish() ?? []) await pool.submit(() => writeChunk(chunk, plan!.columns));
    await pool.drain();
    await early.flush();
  } catch (error) {
    // Every put must be over before the caller removes what was written.
    await pool.settle();
    await early.flush().catch(() => {});
    throw error;
  } finally {
    await opened.close();
  }

  batches.sort((a, b) => a.partition - b.partition || a.chunk - b.chunk);
  let rejectsRef: FileManifest['rejects'] = null;
  if (rejected > 0) {
    rejectsRef = { bucket: file.bucket, key: rejectsKeyOf(file.key, fileId) };
    const body = rejects.map((r) => JSON.stringify(r)).join('\n') + '\n';
    await deps.store.put(rejectsRef.bucket, rejectsRef.key, body, 'application/x-ndjson');
  }
  const manifest = manifestOf(FileStatus.produced, batches, read, rejected, rejectsRef, now());
  await deps.store.put(deps.stagingBucket, manifestKey, JSON.stringify(manifest), 'application/json');

  const held = batches.filter((b) => !early.wasSent(b.batchId));
  await deps.sender.send(finalMessagesOf(manifest, manifestKey, held));
  logger.info('file produced', {
    fileId,
    bucket: file.bucket,
    key: file.key,
    table: table.table,
    batches: batches.length,
    sentWhileReading: batches.length - held.length,
    read,
    rejected,
    durationMs: manifest.durationMs,
  });
  return { status: 'produced', fileId, manifestKey, manifest };
}

async function moveAside(
  deps: ProducerDeps,
  file: FileIdentity,
  fileId: string,
  table: TableConfig | undefined,
  error: UnreadableFileError,
): Promise<ProduceOutcome> {
  const logger = deps.logger ?? silent;
  const now = deps.now ?? (() => new Date());
  const at = now();
  const keys = movedAsideKeysOf(file.key);
  const movedTo = { bucket: file.bucket, key: keys.file };
  const ref = refOf(file);
  if ((await deps.store.copy(ref, movedTo.bucket, movedTo.key)) === 'gone') return { status: 'gone', fileId };
  const reason = {
    file: { bucket: file.bucket, key: file.key, versionId: file.versionId, etag: file.etag, eventTime: file.eventTime },
    fileId,
    table: table?.table ?? null,
    code: error.code,
    message: error.message,
    line: error.line ?? null,
    field: error.field ?? null,
    movedTo,
    movedAt: at.toISOString(),
  };
  await deps.store.put(file.bucket, keys.reason, JSON.stringify(reason, null, 2), 'application/json');
  // A file routed to no table still gets a manifest (under a reserved table name), so the
  // consumer can register it from the file notice.
  const manifestKey = manifestKeyOf(table?.table ?? UNROUTED_TABLE, fileId);
  const manifest: FileManifest = {
    format: 1,
    fileId,
    file,
    table: table?.table ?? '',
    status: FileStatus.movedAside,
    arrival: fileArrivalOf(file),
    fileFormat: null,
    compressed: false,
    columns: [],
    batchCount: 0,
    read: 0,
    rejected: 0,
    rejects: null,
    batches: [],
    reason: { code: error.code, message: error.message, movedTo, line: error.line ?? null, field: error.field ?? null },
    startedAt: at.toISOString(),
    finishedAt: at.toISOString(),
    durationMs: 0,
  };
  await deps.store.put(deps.stagingBucket, manifestKey, JSON.stringify(manifest), 'application/json');
  await deps.sender.send([fileNoticeOf(manifest, manifestKey)]);
  await deps.store.remove(ref);
  logger.warn('file moved aside', {
    fileId,
    bucket: file.bucket,
    key: file.key,
    table: table?.table ?? null,
    code: error.code,
    reason: error.message,
    line: error.line ?? null,
    field: error.field ?? null,
    movedTo: movedTo.key,
  });
  return { status: 'moved-aside', fileId, code: error.code, message: error.message, movedTo, manifestKey };
}
