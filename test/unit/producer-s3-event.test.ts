import { describe, expect, test } from 'vitest';
import { IntakeMessageError, parseS3EventMessage, s3EventBodyOf } from '../../shared/core/s3-event.ts';
import { s3EventBody, s3EventRecordFactory, s3TestEventBody } from '../helpers/s3-event.ts';

describe('parseS3EventMessage', () => {
  test('reads the file identity of a record', () => {
    const body = s3EventBody(s3EventRecordFactory({ bucket: 'in', encodedKey: 'orders/a.csv', eTag: 'abc', eventTime: '2026-01-01T00:00:00.000Z' }));
    expect(parseS3EventMessage(body).map((f) => f.file)).toEqual([
      { bucket: 'in', key: 'orders/a.csv', versionId: null, etag: 'abc', eventTime: '2026-01-01T00:00:00.000Z' },
    ]);
  });

  test('URL-decodes the key, + being a space', () => {
    const body = s3EventBody(s3EventRecordFactory({ encodedKey: 'orders/my+file%2B1%C3%A9.csv' }));
    expect(parseS3EventMessage(body)[0]!.file.key).toBe('orders/my file+1é.csv');
  });

  test('keeps the version id and the sequencer', () => {
    const body = s3EventBody(s3EventRecordFactory({ versionId: 'v1', sequencer: '00AB' }));
    const [notified] = parseS3EventMessage(body);
    expect([notified!.file.versionId, notified!.sequencer]).toEqual(['v1', '00AB']);
  });

  test('reads several records of one message in order', () => {
    const body = s3EventBody(s3EventRecordFactory({ encodedKey: 'a/1.csv' }), s3EventRecordFactory({ encodedKey: 'a/2.csv' }));
    expect(parseS3EventMessage(body).map((f) => f.file.key)).toEqual(['a/1.csv', 'a/2.csv']);
  });

  test('ignores the S3 test event', () => {
    expect(parseS3EventMessage(s3TestEventBody())).toEqual([]);
  });

  test('ignores records that are not ObjectCreated', () => {
    expect(parseS3EventMessage(s3EventBody(s3EventRecordFactory({ eventName: 'ObjectRemoved:Delete' })))).toEqual([]);
  });

  test('strips quotes from the ETag', () => {
    expect(parseS3EventMessage(s3EventBody(s3EventRecordFactory({ eTag: '"abc"' })))[0]!.file.etag).toBe('abc');
  });

  test('unwraps an SNS envelope', () => {
    const inner = s3EventBody(s3EventRecordFactory({ encodedKey: 'orders/x.csv' }));
    expect(parseS3EventMessage(JSON.stringify({ Type: 'Notification', Message: inner }))[0]!.file.key).toBe('orders/x.csv');
  });

  test('a body that is not JSON is an intake message error', () => {
    expect(() => parseS3EventMessage('nope')).toThrow(IntakeMessageError);
  });

  test('a record without an ETag is an intake message error naming the field', () => {
    const record = s3EventRecordFactory();
    delete (record.s3.object as { eTag?: string }).eTag;
    expect(() => parseS3EventMessage(s3EventBody(record))).toThrow('s3.object.eTag');
  });

  test('s3EventBodyOf builds what the parser reads back', () => {
    const body = s3EventBodyOf([{ bucket: 'in', key: 'orders/a b+c.csv', etag: '"e1"', size: 3, eventTime: '2026-01-01T00:00:00.000Z' }]);
    expect(parseS3EventMessage(body)[0]!.file).toEqual({
      bucket: 'in',
      key: 'orders/a b+c.csv',
      versionId: null,
      etag: 'e1',
      eventTime: '2026-01-01T00:00:00.000Z',
    });
  });
});
