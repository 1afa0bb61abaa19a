import { etagOf, type FileIdentity, versionIdOf } from './batch.ts';

/** A file named by an S3 ObjectCreated notification. */
export interface NotifiedFile {
  file: FileIdentity;
  /** S3's per-key ordering token, when present. */
  sequencer: string | null;
  size: number | null;
}

export class IntakeMessageError extends Error {
  override name = 'IntakeMessageError';
}

interface S3EventRecordShape {
  eventSource?: unknown;
  eventName?: unknown;
  eventTime?: unknown;
  s3?: {
    bucket?: { name?: unknown };
    object?: { key?: unknown; size?: unknown; eTag?: unknown; versionId?: unknown; sequencer?: unknown };
  };
}

/** S3 notification keys are URL-encoded with `+` for space. */
export function decodeS3Key(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

function stringField(value: unknown, name: string, index: number): string {
  if (typeof value !== 'string' || value === '') throw new IntakeMessageError(`S3 event record ${index}: missing ${name}`);
  return value;
}

/**
 * The files an intake message names: an S3 event notification (also when wrapped in an SNS
 * envelope), several records per message. `s3:TestEvent` and non-ObjectCreated records give
 * nothing. Keys are URL-decoded; ETags lose their quotes.
 */
export function parseS3EventMessage(body: string): NotifiedFile[] {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    throw new IntakeMessageError(`intake message is not JSON: ${(error as Error).message}`, { cause: error });
  }
  if (json && typeof json === 'object' && (json as { Type?: unknown }).Type === 'Notification') {
    const inner = (json as { Message?: unknown }).Message;
    if (typeof inner !== 'string') throw new IntakeMessageError('SNS envelope without a Message');
    return parseS3EventMessage(inner);
  }
  if (!json || typeof json !== 'object') throw new IntakeMessageError('intake message is not an S3 event');
  if ((json as { Event?: unknown }).Event === 's3:TestEvent') return [];
  const records = (json as { Records?: unknown }).Records;
  if (!Array.isArray(records)) throw new IntakeMessageError('intake message has no Records');
  const files: NotifiedFile[] = [];
  records.forEach((record: S3EventRecordShape, index) => {
    if (record?.eventSource !== 'aws:s3') return;
    if (typeof record.eventName !== 'string' || !record.eventName.startsWith('ObjectCreated:')) return;
    const object = record.s3?.object;
    const bucket = stringField(record.s3?.bucket?.name, 's3.bucket.name', index);
    const key = decodeS3Key(stringField(object?.key, 's3.object.key', index));
    const etag = etagOf(stringField(object?.eTag, 's3.object.eTag', index));
    const eventTime = stringField(record.eventTime, 'eventTime', index);
    if (Number.isNaN(new Date(eventTime).getTime())) throw new IntakeMessageError(`S3 event record ${index}: invalid eventTime`);
    const versionId = versionIdOf(object?.versionId);
    files.push({
      file: { bucket, key, versionId, etag, eventTime },
      sequencer: typeof object?.sequencer === 'string' ? object.sequencer : null,
      size: typeof object?.size === 'number' ? object.size : null,
    });
  });
  return files;
}

/** S3 keys in notifications: encoded like `encodeURIComponent`, but `+` for space, `/` kept. */
export function encodeS3Key(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');
}

/** An object as an S3 ObjectCreated notification names it. */
export interface CreatedObject {
  bucket: string;
  key: string;
  /** With or without S3's quotes. */
  etag: string;
  size: number;
  versionId?: string | null;
  /** Default: now. */
  eventTime?: string;
  /** Default: from the clock. */
  sequencer?: string;
  region?: string;
}

/**
 * One S3 `ObjectCreated:Put` notification record, shaped as S3 sends it (key URL-encoded, `+` for
 * space; ETag without quotes): the one builder for emulators that send no notifications
 * themselves (the local runtime, the rehearsal) and for the tests.
 */
export function s3EventRecordOf(o: CreatedObject) {
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: o.region ?? 'us-east-1',
    eventTime: o.eventTime ?? new Date().toISOString(),
    eventName: 'ObjectCreated:Put',
    userIdentity: { principalId: 'local' },
    requestParameters: { sourceIPAddress: '127.0.0.1' },
    responseElements: { 'x-amz-request-id': 'local', 'x-amz-id-2': 'local' },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: 'landfall-intake',
      bucket: { name: o.bucket, ownerIdentity: { principalId: 'local' }, arn: `arn:aws:s3:::${o.bucket}` },
      object: {
        key: encodeS3Key(o.key),
        size: o.size,
        eTag: o.etag.replace(/^"|"$/g, ''),
        ...(o.versionId ? { versionId: o.versionId } : {}),
        sequencer: o.sequencer ?? Date.now().toString(16).toUpperCase().padStart(16, '0'),
      },
    },
  };
}

/** The notification body S3 would send for these objects. */
export function s3EventBodyOf(objects: readonly CreatedObject[]): string {
  return JSON.stringify({ Records: objects.map(s3EventRecordOf) });
}
