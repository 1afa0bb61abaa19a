import type { QueueMessage } from '../core/batch-message.ts';

/** One version of one object. */
export interface ObjectRef {
  bucket: string;
  key: string;
  versionId: string | null;
  etag: string;
}

/** Random access to an object's bytes (the shape hyparquet reads). */
export interface RandomAccessObject {
  byteLength: number;
  slice(start: number, end?: number): Promise<ArrayBuffer>;
}

/**
 * The object storage the producer needs (S3 in AWS, the emulator locally). Reads are pinned
 * to the version the notification named; `gone` means that version no longer exists (a later
 * notification carries its successor).
 */
export interface ObjectStore {
  stream(ref: ObjectRef): Promise<AsyncIterable<Uint8Array> | 'gone'>;
  randomAccess(ref: ObjectRef): Promise<RandomAccessObject | 'gone'>;
  put(bucket: string, key: string, body: Uint8Array | string, contentType: string): Promise<void>;
  /** An object of the store's own making as text, or null when there is none. */
  getText(bucket: string, key: string): Promise<string | null>;
  /** Copies that version; `gone` when it no longer exists. */
  copy(from: ObjectRef, toBucket: string, toKey: string): Promise<'copied' | 'gone'>;
  /** Deletes that version (or, unversioned, the key while its ETag still matches). */
  remove(ref: ObjectRef): Promise<void>;
  /** Deletes keys of the store's own making (best effort is fine). */
  removeKeys(bucket: string, keys: readonly string[]): Promise<void>;
}

/** An outgoing FIFO message for one batch (or the notice of a file without batches). */
export interface OutgoingBatch {
  groupId: string;
  deduplicationId: string;
  body: QueueMessage;
}

/**
 * Sends batch messages to the FIFO queue: all of them or throw. Messages of one group must
 * be enqueued in the order given.
 */
export interface BatchSender {
  send(messages: readonly OutgoingBatch[]): Promise<void>;
}

/** The slice of a logger the producer uses (Powertools Logger fits). */
export interface ProducerLogger {
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
}
