import { batchIdOf, fileArrivalOf, fileIdOf, type FileIdentity } from '../core/batch.ts';
import { type ChunkingSettings, FileStatus, MANIFEST_REJECTS, type FileManifest, type ManifestBatch, type RejectedRow } from '../core/batch-message.ts';
import { findTableForKey, mapColumnName, ARRIVAL, type TableConfig } from '../core/config.ts';
import { isNumericType, valueConverterOf, type ValueConverter } from '../core/read/value-format.ts';
import { encodeBatch, type BatchToEncode } from './batch-object.ts';
import { canonicalizerFor, type KeyCanonicalizer } from '../core/canonical-key.ts';
import { PartitionChunker, type Chunk } from '../core/chunker.ts';
import { UnreadableFileError, UnreadableReason } from '../core/read/errors.ts';
import { planHeader, planObjectHeader, type HeaderPlan } from './header-plan.ts';
import { refusalOfObject } from '../core/column-plan.ts';
import { batchKeyOf, isRejectedKey, manifestKeyOf, rejectsKeyOf } from '../core/keys.ts';
import { fileNoticeOf, finalMessagesOf, messagesOf, openingNoticeOf, resentMessagesOf } from './messages.ts';
import { stopRunawayChain } from './invocation-cap.ts';
import { moveAside } from './move-aside.ts';
import { openSource } from './open-source.ts';
import { rowPartitioner } from '../core/partition.ts';
import type { Invocation, ProducerLogger } from './ports.ts';
import { DEFAULT_PRODUCER_LIMITS, type ProduceOutcome, type ProducerDeps } from './producer-contract.ts';
import { continuationOf, mayStartSegment, progressKeyOf, type ContinuationMessage, type FileProgress } from '../core/progress.ts';
import { MAX_REJECT_RAW_CHARS, type ResumePoint } from '../core/read/records.ts';
import type { TextValue } from '../core/read/values.ts';
import { StreamingSender } from './streaming-sender.ts';
import { TaskPool } from './task-pool.ts';
import { EndWatch } from '../core/read/unreadable-end.ts';
import { RecordKind } from '../core/encoded-block.ts';
import { isBlockItem, parallelCsvEvents, type BlockItem } from './parallel-csv.ts';

export { DEFAULT_PRODUCER_LIMITS, type ProduceOutcome, type ProducerDeps, type ProducerLimits } from './producer-contract.ts';

const silent: ProducerLogger = { info() {}, warn() {} };
const unbounded: Invocation = { remainingMs: () => Infinity };

function cut(text: string): { raw: string; truncated: boolean } {
  return text.length > MAX_REJECT_RAW_CHARS ? { raw: text.slice(0, MAX_REJECT_RAW_CHARS), truncated: true } : { raw: text, truncated: false };
}

/**
 * Produces one dropped file: streams it, partitions its rows by conflict key, writes each
 * chunk as a zstd JSON batch object to staging, then the rejects object and the manifest,
 * then sends one FIFO message per batch. Deterministic: the same file version always gives
 * the same keys, bytes and ids, so a duplicate notification or a retry after a crash
 * changes nothing. An unreadable file is moved aside with a reason instead. A file too large
 * for one invocation stops at a segment's end and is continued (`continueFile`).
 *
 * @example await produceFile({ config, store, sender, stagingBucket }, fileIdentity, { remainingMs: () => context.getRemainingTimeInMillis() })
 */
export async function produceFile(deps: ProducerDeps, file: FileIdentity, invocation: Invocation = unbounded): Promise<ProduceOutcome> {
  const fileId = fileIdOf(file);
  if (isRejectedKey(file.key)) return { status: 'ignored', fileId, why: 'key under the rejected/ prefix' };
  const table = findTableForKey(deps.config, file.key);
  if (!table) {
    const prefixes = deps.config.tables.map((t) => `"${t.prefix}"`).join(', ');
    return moveAside(deps, file, fileId, undefined, new UnreadableFileError(UnreadableReason.noTable, `key is under no configured table prefix (${prefixes})`));
  }
  return produceOrMoveAside(deps, file, fileId, table, null, invocation);
}

/**
 * Goes on with a file where an earlier invocation stopped. A continuation delivered twice, or
 * one whose invocation crashed, reads the same segments again and cuts the same batches; one
 * that arrives after the file was produced only sends its final messages again.
 */
export async function continueFile(deps: ProducerDeps, message: ContinuationMessage, invocation: Invocation = unbounded): Promise<ProduceOutcome> {
  const text = await deps.store.getText(deps.stagingBucket, message.progressKey);
  const manifestKey = manifestKeyOf(message.table, message.fileId);
  if (text === null) {
    const produced = await previousRun(deps, message.fileId, manifestKey);
    if (produced && 'produced' in produced) return produced.produced;
    throw new Error(`continuation of file ${message.fileId}: no progress object at ${message.progressKey}`);
  }
  const progress = JSON.parse(text) as FileProgress;
  const table = deps.config.tables.find((t) => t.table === progress.table);
  if (!table) throw new Error(`continuation of file ${message.fileId}: table "${progress.table}" is no longer configured`);
  return produceOrMoveAside(deps, progress.file, progress.fileId, table, progress, invocation);
}

async function produceOrMoveAside(deps: ProducerDeps, file: FileIdentity, fileId: string, table: TableConfig, from: FileProgress | null, invocation: Invocation): Promise<ProduceOutcome> {
  // Batch objects of earlier invocations too: an unreadable file leaves none behind.
  const written = from ? from.batches.map((b) => b.stagingKey) : [];
  try {
    return await produceTableFile(deps, { file, fileId, table, from, invocation }, written);
  } catch (error) {
    if (!(error instanceof UnreadableFileError)) throw error;
    try {
      await deps.store.removeKeys(deps.stagingBucket, written);
    } catch (cleanup) {
      (deps.logger ?? silent).warn('could not remove the batch objects of an unreadable file', { fileId, error: String(cleanup) });
    }
    return moveAside(deps, file, fileId, table, error);
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
async function previousRun(deps: ProducerDeps, fileId: string, manifestKey: string): Promise<{ produced: ProduceOutcome } | { chunking: ChunkingSettings; textFormat: FileManifest['textFormat'] } | null> {
  const text = await deps.store.getText(deps.stagingBucket, manifestKey);
  if (text === null) return null;
  const manifest = JSON.parse(text) as FileManifest;
  if (manifest.fileId !== fileId) return null;
  if (manifest.status === FileStatus.producing && manifest.chunking) return { chunking: manifest.chunking, textFormat: manifest.textFormat ?? null };
  // Stopped at the per-file cap: final, not read again by a repeated notification or continuation.
  if (manifest.status === FileStatus.movedAside && manifest.reason?.code === UnreadableReason.tooManyInvocations) {
    await deps.sender.send([fileNoticeOf(manifest, manifestKey)]);
    const { code, message, movedTo } = manifest.reason;
    return { produced: { status: 'moved-aside', fileId, code: code as UnreadableReason, message, movedTo, manifestKey } };
  }
  if (manifest.status !== FileStatus.produced) return null;
  await deps.sender.send(resentMessagesOf(manifest, manifestKey));
  (deps.logger ?? silent).info('file already produced; its batch messages were sent again', { fileId, batches: manifest.batches.length });
  return { produced: { status: 'produced', fileId, manifestKey, manifest } };
}

/** A row's partition from its canonical key, or null without the key types (no catalog snapshot yet). */
function partitionerOf(header: HeaderPlan, partitions: number): ((values: readonly TextValue[]) => number) | null {
  // JSON objects: a key column no object carried yet has no index; no row without it is loaded.
  if (header.plan.keyIndexes.some((i) => i < 0)) return null;
  const canonicalizers: KeyCanonicalizer[] | undefined = header.keyTypes?.map((k) => canonicalizerFor(k, header.timeZone));
  return canonicalizers ? rowPartitioner(canonicalizers, header.plan.keyIndexes, partitions) : null;
}

/** Whether a header name is a column the table knows: in its snapshot, or named by its config (after the `columns` mapping). */
function knownColumnsOf(table: TableConfig, snapshot: { columns: { name: string }[] } | null): (name: string) => boolean {
  const names = new Set([...(snapshot?.columns.map((c) => c.name) ?? []), ...table.conflictKey, ...(table.version !== ARRIVAL ? [table.version] : []), ...(table.delete ? [table.delete.column] : []), ...Object.values(table.columns ?? {})]);
  return (name) => names.has(mapColumnName(table, name));
}

interface Job {
  file: FileIdentity;
  fileId: string;
  table: TableConfig;
  /** Where an earlier invocation stopped, or null from the start. */
  from: FileProgress | null;
  invocation: Invocation;
}

async function produceTableFile(deps: ProducerDeps, job: Job, written: string[]): Promise<ProduceOutcome> {
  const { file, fileId, table, from } = job;
  const logger = deps.logger ?? silent;
  const now = deps.now ?? (() => new Date());
  const limits = { ...DEFAULT_PRODUCER_LIMITS, ...deps.limits };
  const arrival = fileArrivalOf(file);
  const manifestKey = manifestKeyOf(table.table, fileId);
  const previous = await previousRun(deps, fileId, manifestKey);
  if (previous && 'produced' in previous) return previous.produced;
  const startedAt = from ? new Date(from.startedAt) : now();
  const chunking: ChunkingSettings = from?.chunking ??
    (previous && 'chunking' in previous ? previous.chunking : null) ?? {
      partitions: table.partitions,
      maxRows: deps.config.batch.maxRows,
      maxBytes: deps.config.batch.maxBytes,
      maxBufferedBytes: limits.maxBufferedBytes,
      segmentBytes: limits.segmentBytes,
    };
  const segmentBytes = chunking.segmentBytes ?? limits.segmentBytes;
  const snapshot = (await deps.catalog?.get(table.table)) ?? null;
  // A retry reads the file as the run it retries did (the delimiter "auto" chose), whatever changed since.
  const recorded = previous && 'chunking' in previous ? previous.textFormat : null;
  const opened = await openSource(deps.store, file, from, {
    format: table.format,
    known: knownColumnsOf(table, snapshot),
    ...(recorded ? { textFormat: recorded } : {}),
    ...(deps.tmpDir ? { tmpDir: deps.tmpDir } : {}),
  });
  if (opened === 'gone') return { status: 'gone', fileId };
  // The profile's number format needs to know which columns take numbers: from the snapshot the first invocation saw.
  const numericColumns: string[] | null = from ? (from.numericColumns ?? null) : snapshot ? snapshot.columns.filter((c) => isNumericType(c.baseType)).map((c) => c.name) : null;
  let converter: ValueConverter | null = null;
  const convertValues = (columns: readonly string[]) => {
    try {
      converter = valueConverterOf(table.format, columns, numericColumns ? (c) => numericColumns.includes(c) : null);
    } catch {
      throw new UnreadableFileError(
        UnreadableReason.formatOption,
        `the table's "format" sets "decimal" or "thousands", which apply to its numeric columns, and the producer has no catalog snapshot of table "${table.table}" yet to know them: ` +
          'let the consumer write it (the deploy step, or landfall dev at start-up), then drop the file again',
      );
    }
  };

  // JSON objects may differ in their keys: their batches carry the union of their rows' keys.
  const objects = opened.format === 'ndjson' || opened.format === 'json';
  let header: HeaderPlan | undefined = from ? { plan: from.plan, keyTypes: from.keyTypes, timeZone: from.timeZone } : undefined;
  let partitionRow = header ? partitionerOf(header, chunking.partitions) : null;
  let chunker = header ? new PartitionChunker(objects ? null : header.plan.columns.length, chunking, from!.nextChunks) : undefined;
  if (header) convertValues(header.plan.columns);
  let prefix = from?.prefix ?? null;
  let read = from?.read ?? 0;
  let rejected = from?.rejected ?? 0;
  const rejects: RejectedRow[] = [...(from?.rejects ?? [])];
  const batches: ManifestBatch[] = [...(from?.batches ?? [])];
  const pool = new TaskPool(limits.uploadConcurrency);
  const fileRef = { bucket: file.bucket, key: file.key, versionId: file.versionId, etag: file.etag };
  const manifestOf = (status: FileStatus, listed: ManifestBatch[], rejectsRef: FileManifest['rejects'], finishedAt: Date, extra: Partial<FileManifest> = {}): FileManifest => ({
    format: 1,
    fileId,
    file,
    table: table.table,
    status,
    arrival,
    fileFormat: opened.format,
    compressed: opened.compressed,
    ...(opened.textFormat ? { textFormat: opened.textFormat } : {}),
    columns: header ? header.plan.columns.filter((_, i) => !header!.plan.refused?.[i]) : [],
    batchCount: listed.length,
    read: status === FileStatus.producing ? 0 : read,
    rejected: status === FileStatus.producing ? 0 : rejected,
    rejects: rejectsRef,
    rejectsListed: rejects.slice(0, MANIFEST_REJECTS),
    batches: listed,
    reason: null,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - startedAt.getTime(),
    chunking,
    ...extra,
  });
  // Every file streams its messages, compressed and Parquet ones too: damage found later in such a
  // file ends its read there, and the rows read before it apply (the file's end is unreadable: EndWatch).
  const streaming = true;
  const early = new StreamingSender((ready) => deps.sender.send(messagesOf(fileId, table.table, ready, null, manifestKey)), from?.nextChunks);
  // Every format: a retry from the start (a crash, a repeated notification while the file is being
  // continued) cuts with the same settings even if the config changed meanwhile.
  if (!from) {
    const opening = manifestOf(FileStatus.producing, [], null, startedAt);
    await deps.store.put(deps.stagingBucket, manifestKey, JSON.stringify(opening), 'application/json');
    // The ledger lists the file from here on ("in progress"), before its first batch.
    await deps.sender.send([openingNoticeOf(opening, manifestKey)]);
  }

  const writeChunk = async (chunk: Chunk, fileColumns: readonly string[]) => {
    const columns = chunk.columnIndexes.length === fileColumns.length && chunk.absent.size === 0 && !objects ? [...fileColumns] : chunk.columnIndexes.map((i) => fileColumns[i]!);
    const absent = chunk.absent.size > 0 ? Object.fromEntries([...chunk.absent].map(([slot, rows]) => [columns[slot]!, [...rows]])) : undefined;
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
      ...(absent ? { absent } : {}),
    };
    const body = await encodeBatch(batch);
    // The batch's bytes are copied out: the blocks its rows came from may be written again.
    for (const holder of chunk.holders) holder.release();
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
  const submit = async (chunks: readonly Chunk[]) => {
    for (const chunk of chunks) await pool.submit(() => writeChunk(chunk, header!.plan.columns));
  };

  // Segments: see FileProgress. `last` is the latest point a read could resume at, after row `lastRow`.
  let segment = from?.segment ?? 0;
  let last: ResumePoint = from?.position ?? { at: 0, bytes: 0, lines: 0 };
  let lastRow = from?.position.row ?? 0;
  let segmentStart = last.bytes;
  const invocationStart = performance.now();
  let segmentStartedAt = invocationStart;
  let longestSegmentMs = 0;
  let stoppedAt = null as (ResumePoint & { row: number }) | null;
  /** Why a JSON object is refused (a key that does not fit, no key or version column), or null. */
  const objectRefusal = (event: { values: readonly TextValue[]; absent?: readonly number[] }): string | null => {
    const absent = event.absent;
    return refusalOfObject(table, header!.plan, (i) => i < event.values.length && !(absent && absent.includes(i)));
  };
  /** A record with a resume point ends a segment (call it only then): its partitions' batches are cut; true when the invocation stops. */
  const segmentEnds = async (): Promise<boolean> => {
    // A segment ends here, whatever the clock says: its partitions' batches are cut.
    await submit(chunker!.finish());
    segment++;
    segmentStart = last.bytes;
    const at = performance.now();
    longestSegmentMs = Math.max(longestSegmentMs, at - segmentStartedAt);
    segmentStartedAt = at;
    if (deps.continuations && !mayStartSegment(limits, at - invocationStart, job.invocation.remainingMs(), longestSegmentMs)) {
      stoppedAt = { at: last.at, bytes: last.bytes, lines: last.lines, row: lastRow };
      return true;
    }
    return false;
  };
  /** Blocks of the file that block workers read (the log line says so: the bundled workers ran). */
  let workerBlocks = 0;
  /** The records of a block a worker read: as the events of those records would be, numbered from the block's start. */
  const takeBlock = async ({ block, start, holder }: BlockItem): Promise<boolean> => {
    workerBlocks++;
    try {
      return await takeRecords(block, start, holder);
    } finally {
      // Its records are read: the rows the open chunks still need are copied out of it, and only
      // the chunks cut from it and not encoded yet keep its memory now.
      chunker?.settleEncoded();
      holder.release();
    }
  };
  const takeRecords = async (block: BlockItem['block'], start: BlockItem['start'], holder: BlockItem['holder']): Promise<boolean> => {
    const taken = new Int32Array(chunking.partitions);
    let reject = 0;
    // The block's latest resume point not yet in `last` (an index: the rows of a block make no object each).
    let pending = -1;
    const settle = (i: number) => {
      const at = start.at + block.resumeAt[i]!;
      last = { at, bytes: at, lines: start.lines + block.resumeLines[i]! };
      lastRow = start.row + block.rows[i]!;
    };
    for (let i = 0; i < block.count; i++) {
      const row = start.row + block.rows[i]!;
      read++;
      if (block.kinds[i] === RecordKind.row) {
        const partition = block.partitions[i]!;
        const ready = chunker!.addEncoded(partition, row, block.rowBytes[i]!, block.parts[partition]!, taken[partition]!++, holder);
        if (ready.length > 0) await submit(ready);
      } else {
        rejected++;
        const r = block.rejects[reject++]!;
        if (rejects.length < limits.maxRejectsListed) rejects.push({ file: fileRef, fileId, row, line: start.lines + r.line, reason: r.reason, ...cut(r.raw) });
      }
      const at = block.resumeAt[i]!;
      if (Number.isNaN(at)) continue;
      if (start.at + at - segmentStart < segmentBytes) {
        pending = i;
        continue;
      }
      pending = -1;
      settle(i);
      if (await segmentEnds()) return true;
    }
    if (pending >= 0) settle(pending);
    return false;
  };
  const watch = new EndWatch(from ? from.position : null);
  // Delimited text with worker threads: blocks of it read, partitioned and encoded in parallel (see parallelCsvEvents).
  // Uncompressed text only: damage in a compressed file is found row by row (EndWatch), which blocks do not report.
  const workers = deps.workers && deps.workers.size > 0 && opened.raw && !opened.compressed ? deps.workers : null;
  const events = workers
    ? parallelCsvEvents(opened.raw!, {
        workers,
        blockBytes: limits.blockBytes,
        plan: () =>
          header && chunker
            ? { columns: header.plan.columns, keyIndexes: header.plan.keyIndexes, keyTypes: header.keyTypes, timeZone: header.timeZone, partitions: chunking.partitions, format: table.format, numericColumns }
            : null,
      })
    : watch.events(opened.events);
  try {
    reading: for await (const item of events) {
      if (isBlockItem(item)) {
        if (await takeBlock(item)) break reading;
        continue;
      }
      for (const event of Array.isArray(item) ? item : [item]) {
        const refusal = objects && event.kind === 'row' ? objectRefusal(event) : null;
        if (event.kind === 'row' && refusal === null) {
          read++;
          if (converter) (converter as ValueConverter).convert(event.values);
          const ready = chunker!.add(partitionRow ? partitionRow(event.values) : 0, event.row, event.values, event.absent);
          if (ready.length > 0) await submit(ready);
        } else if (event.kind === 'reject' || event.kind === 'row') {
          read++;
          rejected++;
          if (rejects.length < limits.maxRejectsListed) {
            const reason = event.kind === 'reject' ? event.reason : `line ${event.line} (row ${event.row}): ${refusal}`;
            const raw = event.kind === 'reject' ? event.raw : (event.raw ?? '');
            rejects.push({ file: fileRef, fileId, row: event.row, line: event.line, reason, ...cut(raw) });
          }
        } else if (objects) {
          // The keys of JSON objects, planned as they appear (an object with a key that does not fit is refused alone).
          const first = !event.extends || !header;
          header = await planObjectHeader(deps.catalog, table, first ? null : header!, event.names);
          partitionRow = partitionerOf(header, chunking.partitions);
          convertValues(header.plan.columns);
          if (first) {
            if (!header.keyTypes && chunking.partitions > 1) {
              logger.warn('no catalog snapshot of the table yet: the whole file goes to partition 0, so its ties still follow the winner rule', { fileId, table: table.table });
            }
            chunker ??= new PartitionChunker(null, chunking);
            // A resumed read needs no bytes before its position: the plan holds the keys.
            prefix ??= { start: 0, end: 0, rows: 0, lines: 0 };
          }
          continue;
        } else {
          header = await planHeader(deps.catalog, table, event.names, opened.textFormat);
          partitionRow = partitionerOf(header, chunking.partitions);
          convertValues(header.plan.columns);
          if (!partitionRow && chunking.partitions > 1) {
            logger.warn('no catalog snapshot of the table yet: the whole file goes to partition 0, so its ties still follow the winner rule', { fileId, table: table.table });
          }
          chunker = new PartitionChunker(header.plan.columns.length, chunking);
          // CSV: the header is its own record.
          if (event.resume) prefix = { start: 0, end: event.resume.at, rows: 0, lines: event.resume.lines };
          continue;
        }
        if (!event.resume) continue;
        last = event.resume;
        lastRow = event.row;
        if (!chunker || last.bytes - segmentStart < segmentBytes) continue;
        if (await segmentEnds()) break reading;
      }
    }
    if (!stoppedAt) await submit(chunker?.finish() ?? []);
    await pool.drain();
    // Stopping early: nothing stays held, the next invocation holds its own last chunks.
    if (stoppedAt) early.release();
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
  const invocations = (from?.invocations ?? 0) + 1;

  if (stoppedAt) {
    // A runaway chain ends here, with a reason (shared/producer/invocation-cap.ts).
    const cap = from?.maxInvocations ?? limits.maxInvocationsPerFile;
    if (invocations >= cap) {
      return stopRunawayChain(deps, {
        file, fileId, table, manifestKey, cap, invocations, segment, stoppedAt, startedAt, chunking, batches, read, rejected, rejects,
        fileFormat: opened.format, compressed: opened.compressed, columns: header!.plan.columns, sent: streaming,
      });
    }
    const progress: FileProgress = {
      format: 1,
      fileId,
      file,
      table: table.table,
      segment,
      startedAt: startedAt.toISOString(),
      chunking,
      fileFormat: opened.format,
      compressed: opened.compressed,
      textFormat: opened.textFormat,
      numericColumns,
      plan: header!.plan,
      keyTypes: header!.keyTypes,
      timeZone: header!.timeZone,
      position: stoppedAt,
      prefix,
      read,
      rejected,
      nextChunks: chunker!.nextChunks,
      batches,
      rejects,
      invocations,
      maxInvocations: cap,
    };
    const progressKey = progressKeyOf(table.table, fileId, segment);
    await deps.store.put(deps.stagingBucket, progressKey, JSON.stringify(progress), 'application/json');
    await deps.continuations!.send(continuationOf(progress, progressKey));
    logger.info('file continued in a fresh invocation', { fileId, table: table.table, segment, at: stoppedAt.at, read, batches: batches.length, invocations });
    return { status: 'continued', fileId, segment, progressKey, read, batches: batches.length };
  }

  let rejectsRef: FileManifest['rejects'] = null;
  if (rejected > 0) {
    rejectsRef = { bucket: file.bucket, key: rejectsKeyOf(file.key, fileId) };
    const body = rejects.map((r) => JSON.stringify(r)).join('\n') + '\n';
    await deps.store.put(rejectsRef.bucket, rejectsRef.key, body, 'application/x-ndjson');
  }
  const unsent = streaming ? early.held : batches;
  const manifest = manifestOf(FileStatus.produced, batches, rejectsRef, now(), { sentAfterManifest: unsent.length, invocations, ...(watch.end ? { unreadableEnd: watch.end } : {}) });
  await deps.store.put(deps.stagingBucket, manifestKey, JSON.stringify(manifest), 'application/json');
  await deps.sender.send(finalMessagesOf(manifest, manifestKey, unsent));
  if (segment > 0 && from) {
    // The progress objects are done with (the staging lifecycle would expire them too).
    const keys = Array.from({ length: segment }, (_, s) => progressKeyOf(table.table, fileId, s + 1));
    await deps.store.removeKeys(deps.stagingBucket, keys).catch((error: unknown) => logger.warn('could not remove progress objects', { fileId, error: String(error) }));
  }
  if (watch.end) logger.warn('the end of the file is unreadable: the rows read before it were produced', { fileId, key: file.key, table: table.table, code: watch.end.code, reason: watch.end.message, read });
  logger.info('file produced', {
    fileId,
    bucket: file.bucket,
    key: file.key,
    table: table.table,
    batches: batches.length,
    sentWhileReading: batches.length - unsent.length,
    read,
    rejected,
    invocations,
    durationMs: manifest.durationMs,
    blockWorkers: deps.workers?.size ?? 0,
    workerBlocks,
  });
  return { status: 'produced', fileId, manifestKey, manifest };
}
