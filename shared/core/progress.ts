import { z } from 'zod';
import type { FileIdentity } from './batch.ts';
import type { ChunkingSettings, ManifestBatch, RejectedRow } from './batch-message.ts';
import type { KeyColumnType } from './canonical-key.ts';
import type { ColumnPlan } from './column-plan.ts';
import type { FileFormat } from './read/file-format.ts';
import type { TextFormat } from './read/read-csv.ts';

export type { TextFormat } from './read/read-csv.ts';
import type { ResumePoint, SourceEvent } from './read/records.ts';

/**
 * Where a file's production stands after a whole number of segments: what a fresh invocation
 * needs to go on exactly as one long invocation would have. A segment ends at the first record
 * boundary at least `segmentBytes` past the previous one, so where segments end depends only on
 * the file, never on time: the invocation that stops there (its deadline is near), the one that
 * did not stop there, and a retry of either, cut the same batches under the same ids.
 *
 * Written to staging (`progressKeyOf`) before the continuation message that names it is sent;
 * one object per segment, never rewritten with other contents.
 */
export interface FileProgress {
  format: 1;
  fileId: string;
  file: FileIdentity;
  table: string;
  /** Segments done. */
  segment: number;
  startedAt: string;
  chunking: ChunkingSettings;
  fileFormat: FileFormat;
  compressed: boolean;
  /** Delimited text: its delimiter and encoding (absent in progress objects of earlier versions: comma, UTF-8). */
  textFormat?: TextFormat | null;
  /** The columns that take numbers, when the profile's number format applies (kept, as the plan is). */
  numericColumns?: string[] | null;
  /** The column plan and key types fixed by the first invocation (a later catalog change does not move a batch). */
  plan: ColumnPlan;
  keyTypes: KeyColumnType[] | null;
  timeZone: string;
  /** Where the next segment starts, and the last row number read before it. */
  position: ResumePoint & { row: number };
  /**
   * CSV: the bytes that hold the file's columns (the header), read again before `position.at` so
   * the reader sees the same columns; `rows` and `lines` of them are not counted again. JSON
   * objects: empty (the plan holds their keys), or in progress objects of earlier versions the
   * first object's line (`columnsLine`, no longer read).
   */
  prefix: { start: number; end: number; rows: number; lines: number; columnsLine?: number } | null;
  read: number;
  rejected: number;
  /** Each partition's next chunk index. */
  nextChunks: number[];
  /** Every batch written so far (all sent already when the file streams its messages). */
  batches: ManifestBatch[];
  /** The rejected rows listed so far (up to the producer's limit). */
  rejects: RejectedRow[];
  /** Invocations so far. */
  invocations: number;
  /**
   * The invocations this file may take (the producer's cap when its first invocation ran); the
   * one that reaches it stops the file instead of continuing it. Absent in progress objects of
   * earlier versions (the producer's current cap applies).
   */
  maxInvocations?: number;
}

/** The intake-queue message that has a fresh invocation go on with a file. */
export interface ContinuationMessage {
  format: 1;
  kind: 'landfall-continue';
  fileId: string;
  table: string;
  segment: number;
  /** Staging key of the `FileProgress` to go on from. */
  progressKey: string;
}

const continuationSchema = z.strictObject({
  format: z.literal(1),
  kind: z.literal('landfall-continue'),
  fileId: z.string().min(1),
  table: z.string().min(1),
  segment: z.number().int().min(1),
  progressKey: z.string().min(1),
});

/** The continuation an intake message carries, or null when it is something else (an S3 notification). */
export function parseContinuation(body: string): ContinuationMessage | null {
  if (!body.includes('"landfall-continue"')) return null;
  const parsed = continuationSchema.safeParse(JSON.parse(body));
  if (!parsed.success) throw new Error(`invalid continuation message: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

export function continuationOf(progress: FileProgress, progressKey: string): ContinuationMessage {
  return { format: 1, kind: 'landfall-continue', fileId: progress.fileId, table: progress.table, segment: progress.segment, progressKey };
}

/** Staging key of a file's progress after `segment` segments (under the manifests prefix). */
export function progressKeyOf(table: string, fileId: string, segment: number): string {
  return `manifests/${table}/${fileId}.segment-${segment}.json`;
}

export interface InvocationBudget {
  /** Time the invocation spends reading at most; it stops at the first segment end after which another segment might not fit. */
  maxInvocationMs: number;
  /** Kept free before the function's own deadline, for the last uploads, the progress object and the continuation. */
  deadlineMarginMs: number;
}

/**
 * Whether an invocation starts one more segment: only when twice the longest segment it has
 * read fits in what is left of its budget (the invocation's own cap, and the deadline less the
 * margin). The first segment of an invocation is always read, so a file always advances.
 */
export function mayStartSegment(budget: InvocationBudget, elapsedMs: number, remainingMs: number, longestSegmentMs: number): boolean {
  const left = Math.min(budget.maxInvocationMs - elapsedMs, remainingMs - budget.deadlineMarginMs);
  return left > 2 * longestSegmentMs;
}

/**
 * What a resumed CSV reader is told (`CsvOptions.resumed`): where its prefix ends, and the rows
 * and lines between the prefix and the position, which the numbers in its messages must include.
 */
export function resumedReadOf(progress: Pick<FileProgress, 'position' | 'prefix'>): { prefixBytes: number; rows: number; lines: number } {
  const { position, prefix } = progress;
  return { prefixBytes: prefix ? prefix.end - prefix.start : 0, rows: position.row - (prefix?.rows ?? 0), lines: position.lines - (prefix?.lines ?? 0) };
}

/**
 * A resumed reader's events as a read from the start of the file would have numbered them. The
 * reader reads `prefix` bytes and then the file from `position.at`: its rows, lines and resume
 * points are shifted past the position, the prefix's own rows (NDJSON's first object, in progress
 * objects of earlier versions) and the file's columns event are dropped (not the later keys of
 * JSON objects, which extend the columns). Events come one at a time or in arrays (a reader's pieces), and go
 * on as they came; they are renumbered in place (each is a fresh object only this read holds).
 */
export async function* rebaseEvents<T extends SourceEvent | readonly SourceEvent[]>(
  events: AsyncIterable<T>,
  progress: Pick<FileProgress, 'position' | 'prefix' | 'fileFormat'>,
): AsyncGenerator<T> {
  const { position, prefix } = progress;
  // Parquet readers number rows and row groups absolutely.
  const absolute = progress.fileFormat === 'parquet' || prefix === null;
  const prefixBytes = prefix ? prefix.end - prefix.start : 0;
  /** Whether the event is passed on, renumbered. */
  const rebase = (event: SourceEvent): boolean => {
    // The columns are the plan's already; keys a JSON object brings later are news.
    if (event.kind === 'columns') return event.extends === true;
    if (absolute) return true;
    if (event.row <= prefix!.rows) return false;
    event.row = event.row - prefix!.rows + position.row;
    event.line = event.line - prefix!.lines + position.lines;
    const resume = event.resume;
    if (resume) {
      resume.at = resume.bytes = resume.at - prefixBytes + position.at;
      resume.lines = resume.lines - prefix!.lines + position.lines;
    }
    return true;
  };
  for await (const item of events) {
    if (!Array.isArray(item)) {
      if (rebase(item as SourceEvent)) yield item;
      continue;
    }
    const kept = (item as readonly SourceEvent[]).filter(rebase);
    if (kept.length > 0) yield kept as unknown as T;
  }
}

/**
 * The bytes of `ranges` of a stream, in order (the ranges ascending, not overlapping): a
 * resumed read of a gzip file inflates it from the start and passes on only the prefix and
 * what follows the position.
 */
export async function* sliceBytes(input: AsyncIterable<Uint8Array>, ranges: readonly { start: number; end: number }[]): AsyncGenerator<Uint8Array> {
  let offset = 0;
  let r = 0;
  for await (const chunk of input) {
    const chunkEnd = offset + chunk.byteLength;
    while (r < ranges.length) {
      const range = ranges[r]!;
      const from = Math.max(range.start, offset);
      const to = Math.min(range.end, chunkEnd);
      if (from < to) yield chunk.subarray(from - offset, to - offset);
      if (range.end <= chunkEnd) r++;
      else break;
    }
    if (r >= ranges.length) return;
    offset = chunkEnd;
  }
}
