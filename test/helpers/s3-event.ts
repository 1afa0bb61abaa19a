import { randomBytes } from 'node:crypto';

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

/** One S3 notification record, shaped as S3 sends it. */
export function s3EventRecordFactory(input: S3EventRecordInput = {}) {
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: 'us-east-1',
    eventTime: input.eventTime ?? '2026-01-02T03:04:05.678Z',
    eventName: input.eventName ?? 'ObjectCreated:Put',
    userIdentity: { principalId: 'AWS:EXAMPLE' },
    requestParameters: { sourceIPAddress: '127.0.0.1' },
    responseElements: { 'x-amz-request-id': 'EXAMPLE', 'x-amz-id-2': 'EXAMPLE' },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: 'landfall-intake',
      bucket: { name: input.bucket ?? 'inbox', ownerIdentity: { principalId: 'EXAMPLE' }, arn: `arn:aws:s3:::${input.bucket ?? 'inbox'}` },
      object: {
        key: input.encodedKey ?? 'orders/file.csv',
        size: input.size ?? 123,
        eTag: input.eTag ?? randomBytes(16).toString('hex'),
        ...(input.versionId ? { versionId: input.versionId } : {}),
        sequencer: input.sequencer ?? '0062E99A88DC407460',
      },
    },
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
