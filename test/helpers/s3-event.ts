import { randomBytes } from 'node:crypto';
import { s3EventRecordOf } from '../../shared/core/s3-event.ts';

export interface S3EventRecordInput {
  bucket?: string;
  /** As S3 would put it in the event: URL-encoded, `+` for space. */
  encodedKey?: string;
  eTag?: string;
  versionId?: string;
  size?: number;
  eventTime?: string;
  eventName?: string;
  sequencer?: string;
}

/**
 * One S3 notification record, shaped as S3 sends it (Landfall's own builder, `s3EventRecordOf`),
 * with the raw fields a test may want to get wrong: the encoded key, the ETag, the event name.
 */
export function s3EventRecordFactory(input: S3EventRecordInput = {}) {
  const record = s3EventRecordOf({
    bucket: input.bucket ?? 'inbox',
    key: 'orders/file.csv',
    etag: '',
    size: input.size ?? 123,
    versionId: input.versionId ?? null,
    eventTime: input.eventTime ?? '2026-01-02T03:04:05.678Z',
    sequencer: input.sequencer ?? '0062E99A88DC407460',
  });
  return {
    ...record,
    eventName: input.eventName ?? record.eventName,
    s3: { ...record.s3, object: { ...record.s3.object, key: input.encodedKey ?? record.s3.object.key, eTag: input.eTag ?? randomBytes(16).toString('hex') } },
  };
}

/** An S3 event notification body with these records. */
export function s3EventBody(...records: ReturnType<typeof s3EventRecordFactory>[]): string {
  return JSON.stringify({ Records: records });
}

/** The test event S3 sends when a notification is configured. */
export function s3TestEventBody(bucket = 'inbox'): string {
  return JSON.stringify({
    Service: 'Amazon S3',
    Event: 's3:TestEvent',
    Time: '2026-01-02T03:04:05.678Z',
    Bucket: bucket,
    RequestId: 'EXAMPLE',
    HostId: 'EXAMPLE',
  });
}
