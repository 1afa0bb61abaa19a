import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { etagOf, versionIdOf } from '../core/batch.ts';
import type { ObjectRef, ObjectStore, RandomAccessObject } from '../producer/ports.ts';

type S3Failure = { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } } | undefined;

/**
 * The one S3 not-found detector: a GET answers `NoSuchKey`/`NoSuchVersion`, a HEAD only its 404
 * (`NotFound`), and emulators sometimes only the status.
 */
export function isS3NotFound(error: unknown): boolean {
  const e = error as S3Failure;
  return e?.name === 'NoSuchKey' || e?.name === 'NoSuchVersion' || e?.name === 'NotFound' || e?.Code === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}

/** The notified version is gone: not found, or no longer the ETag a read is pinned to (412). */
function isGone(error: unknown): boolean {
  const e = error as S3Failure;
  return isS3NotFound(error) || e?.name === 'PreconditionFailed' || e?.$metadata?.httpStatusCode === 412;
}

/** Pins a read to the notified version: its version id, else its ETag (If-Match). */
function pin(ref: ObjectRef): { VersionId?: string; IfMatch?: string } {
  return ref.versionId ? { VersionId: ref.versionId } : { IfMatch: `"${ref.etag}"` };
}

/** The producer's object store on S3 (or an S3 emulator). */
export interface S3StoreOptions {
  /** Bytes per ranged GET when streaming an object. */
  segmentBytes?: number;
}

const DEFAULT_SEGMENT_BYTES = 8 * 1024 * 1024;

export function s3ObjectStore(s3: S3Client, options: S3StoreOptions = {}): ObjectStore {
  return {
    async stream(ref, range = { start: 0 }) {
      // Sequential ranged GETs rather than one response for the whole object, and each
      // response's body passed on chunk by chunk as it arrives (never collected into one
      // buffer, which cost two segment-sized copies per request): memory stays bounded
      // whatever the size of the file or the pace of the consumer. A range (a resumed read)
      // starts and stops where it says.
      const segment = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
      const stop = range.end ?? Infinity;
      const get = async (start: number) => {
        const last = Math.min(start + segment, stop) - 1;
        const result = await s3.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key, Range: `bytes=${start}-${last}`, ...pin(ref) }));
        const body = (result.Body ?? null) as (AsyncIterable<Uint8Array> & { destroy?: () => void }) | null;
        // No Content-Range: the whole object came back at once.
        const total = result.ContentRange ? Number(/\/(\d+)$/.exec(result.ContentRange)?.[1]) : undefined;
        return { body, total };
      };
      if (stop <= range.start) return (async function* () {})();
      let first: Awaited<ReturnType<typeof get>>;
      try {
        first = await get(range.start);
      } catch (error) {
        if (isGone(error)) return 'gone';
        if ((error as { name?: string }).name === 'InvalidRange') return (async function* () {})(); // empty, or nothing from there on
        throw error;
      }
      return (async function* () {
        let { body, total } = first;
        let offset = range.start;
        for (;;) {
          let received = 0;
          try {
            if (body) {
              for await (const chunk of body) {
                received += chunk.byteLength;
                yield chunk;
              }
            }
          } finally {
            // Released even when the reader stops half-way (an unreadable file).
            body?.destroy?.();
          }
          offset += received;
          if (total === undefined || !Number.isFinite(total) || offset >= Math.min(total, stop) || received === 0) return;
          ({ body, total } = await get(offset));
        }
      })();
    },

    async randomAccess(ref): Promise<RandomAccessObject | 'gone'> {
      let byteLength: number;
      try {
        const head = await s3.send(new HeadObjectCommand({ Bucket: ref.bucket, Key: ref.key, ...pin(ref) }));
        byteLength = head.ContentLength ?? 0;
      } catch (error) {
        if (isGone(error)) return 'gone';
        throw error;
      }
      return {
        byteLength,
        async slice(start: number, end: number = byteLength) {
          if (end <= start) return new ArrayBuffer(0);
          const result = await s3.send(
            new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key, Range: `bytes=${start}-${end - 1}`, ...pin(ref) }),
          );
          const bytes = (await result.Body?.transformToByteArray()) ?? new Uint8Array(0);
          return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
        },
      };
    },

    async getText(bucket, key) {
      try {
        const result = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return (await result.Body?.transformToString('utf8')) ?? '';
      } catch (error) {
        if (isGone(error)) return null;
        throw error;
      }
    },

    async put(bucket, key, body, contentType) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }));
    },

    async copy(from, toBucket, toKey) {
      const source = `${from.bucket}/${encodeURIComponent(from.key)}${from.versionId ? `?versionId=${encodeURIComponent(from.versionId)}` : ''}`;
      try {
        await s3.send(
          new CopyObjectCommand({
            Bucket: toBucket,
            Key: toKey,
            CopySource: source,
            ...(from.versionId ? {} : { CopySourceIfMatch: `"${from.etag}"` }),
          }),
        );
        return 'copied';
      } catch (error) {
        if (isGone(error)) return 'gone';
        throw error;
      }
    },

    async remove(ref) {
      // Never a permanent delete (no DeleteObject with a version id, no s3:DeleteObjectVersion):
      // in a versioned inbox this puts a delete marker over the notified file, whose version
      // then expires with the bucket's noncurrent-version rule. Only while the key still holds
      // that file, so a newer upload of the same key is never hidden; If-Match closes the gap
      // between the check and the delete.
      let head: { VersionId?: string; ETag?: string };
      try {
        head = await s3.send(new HeadObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
      } catch (error) {
        if (isGone(error)) return;
        throw error;
      }
      // By version where both sides have one; an answer without one (an unversioned bucket, an
      // emulator without versioning) can only be matched by its ETag.
      const headVersion = versionIdOf(head.VersionId);
      const current = ref.versionId && headVersion ? headVersion === ref.versionId : etagOf(head.ETag) === ref.etag;
      if (!current) return;
      try {
        await s3.send(new DeleteObjectCommand({ Bucket: ref.bucket, Key: ref.key, IfMatch: `"${ref.etag}"` }));
      } catch (error) {
        if (isGone(error)) return;
        throw error;
      }
    },

    async removeKeys(bucket, keys) {
      for (let i = 0; i < keys.length; i += 1000) {
        const objects = keys.slice(i, i + 1000).map((Key) => ({ Key }));
        await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects, Quiet: true } }));
      }
    },
  };
}
