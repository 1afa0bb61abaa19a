import { z } from 'zod';
import type { FileManifest } from '../core/batch-message.ts';
import type { LandfallConfig } from '../core/config.ts';
import type { UnreadableReason } from '../core/read/errors.ts';
import type { BlockWorkers } from './block-workers.ts';
import type { CatalogSource } from './catalog-source.ts';
import type { BatchSender, ContinuationSender, ObjectStore, ProducerLogger } from './ports.ts';

export interface ProducerLimits {
  /** Estimated bytes of rows buffered across partitions before the largest is cut early. */
  maxBufferedBytes: number;
  /** Batch objects being compressed and uploaded at once. */
  uploadConcurrency: number;
  /** Rejected rows written to the rejects object; more are only counted. */
  maxRejectsListed: number;
  /**
   * Input bytes per segment (CSV and NDJSON: of the text, after gunzip; Parquet: of compressed
   * row groups). Every segment ends with its partitions' batches cut; an invocation stops only
   * at a segment's end.
   */
  segmentBytes: number;
  /** Reading time of one invocation at most (see `mayStartSegment`). */
  maxInvocationMs: number;
  /** Kept free before the function's deadline. */
  deadlineMarginMs: number;
  /** Bytes of delimited text per block a worker thread reads (`ProducerDeps.workers`); a block ends at a line break. */
  blockBytes: number;
  /**
   * Invocations one file may take: a file still not read after them is stopped and moved aside
   * (`too-many-invocations`) instead of continued, so a runaway chain of continuations ends.
   * Fixed for a file by its first invocation (recorded in its progress object).
   */
  maxInvocationsPerFile: number;
}

/**
 * 64 MiB segments: at the producer's slowest measured pace (6 MB/s on a shared machine) one is
 * read in about 11 s, and cutting each partition's batch at its end adds at most `partitions`
 * short batches per 64 MiB. An invocation reads for 9 minutes at most and keeps 60 s before its
 * deadline: it starts a segment only while twice the longest one so far still fits, so it ends
 * around 9–10 minutes, with 5 of Lambda's 15 left for a segment many times slower than measured.
 */
export const DEFAULT_PRODUCER_LIMITS: ProducerLimits = {
  maxBufferedBytes: 48 * 1024 * 1024,
  uploadConcurrency: 2,
  maxRejectsListed: 10_000,
  segmentBytes: 64 * 1024 * 1024,
  maxInvocationMs: 9 * 60_000,
  deadlineMarginMs: 60_000,
  blockBytes: 1024 * 1024,
  // 5 TB (S3's largest object) at 5 GB or more per invocation.
  maxInvocationsPerFile: 1000,
};

const count = z.number().int().min(1);
const limitsSchema = z.strictObject({
  maxBufferedBytes: count.optional(),
  uploadConcurrency: count.optional(),
  maxRejectsListed: count.optional(),
  segmentBytes: count.optional(),
  maxInvocationMs: count.optional(),
  deadlineMarginMs: z.number().int().min(0).optional(),
  blockBytes: count.optional(),
  maxInvocationsPerFile: z.number().int().min(2).optional(),
});

/**
 * Limits from their JSON text (the stack's LANDFALL_PRODUCER_LIMITS): the fields given, each a
 * whole number; throws naming the field. The rest keep DEFAULT_PRODUCER_LIMITS.
 *
 * @example parseProducerLimits('{"maxInvocationsPerFile":1000}') // { maxInvocationsPerFile: 1000 }
 */
export function parseProducerLimits(text: string): Partial<ProducerLimits> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const parsed = limitsSchema.safeParse(json);
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => (i.code === 'unrecognized_keys' ? `unknown field(s) ${i.keys.join(', ')}` : `${i.path.join('.')}: ${i.message}`)).join('; '));
  return Object.fromEntries(Object.entries(parsed.data).filter(([, v]) => v !== undefined)) as Partial<ProducerLimits>;
}

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
  /** Where a file is handed to a fresh invocation; without it one invocation reads a whole file. */
  continuations?: ContinuationSender;
  limits?: Partial<ProducerLimits>;
  now?: () => Date;
  /** Where a gzip-compressed Parquet file is spilled to be read (default: the OS temp dir). */
  tmpDir?: string;
  /**
   * Worker threads that read, partition and encode delimited text files in blocks, beside the
   * thread that reads the file and uploads its batches (the batches, their ids and bytes are
   * those of a read on one thread); none: one thread does it all.
   */
  workers?: BlockWorkers;
}

export type ProduceOutcome =
  | { status: 'produced'; fileId: string; manifestKey: string; manifest: FileManifest }
  /** Stopped at a segment's end before the deadline; a continuation message goes on from `progressKey`. */
  | { status: 'continued'; fileId: string; segment: number; progressKey: string; read: number; batches: number }
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
