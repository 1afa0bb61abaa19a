import { describe, expect, it } from 'vitest';
import { s3Call } from '../../rehearse/recorder.ts';

const call = (method: string, path: string, headers: Record<string, string> = {}, body = '') => s3Call(method, new URL(path, 'http://emulator'), headers, body, true);

describe('the IAM action of an S3 request (rehearsal recorder)', () => {
  it('reads a version with s3:GetObjectVersion and strips the version id for an emulator without versioning', () => {
    const mapped = call('GET', '/inbox/items/a.csv?versionId=v1&x-id=GetObject');
    expect(mapped.checks).toEqual([{ action: 's3:GetObjectVersion', resource: 'arn:aws:s3:::inbox/items/a.csv' }]);
    expect(mapped.path).toBe('/inbox/items/a.csv?x-id=GetObject');
  });

  it('reads without a version id with s3:GetObject, and knows the bucket for the 404 rule', () => {
    expect(call('HEAD', '/staging/manifests/t/f.json')).toMatchObject({ checks: [{ action: 's3:GetObject' }], bucketArn: 'arn:aws:s3:::staging' });
  });

  it('copies with s3:GetObjectVersion on the source and s3:PutObject on the target', () => {
    const mapped = call('PUT', '/inbox/rejected/a.csv', { 'x-amz-copy-source': 'inbox/items%2Fa.csv?versionId=v1' });
    expect(mapped.checks).toEqual([
      { action: 's3:GetObjectVersion', resource: 'arn:aws:s3:::inbox/items/a.csv' },
      { action: 's3:PutObject', resource: 'arn:aws:s3:::inbox/rejected/a.csv' },
    ]);
    expect(mapped.headers).toEqual({ 'x-amz-copy-source': 'inbox/items%2Fa.csv' });
  });

  it('deletes a version with s3:DeleteObjectVersion, and each key of a DeleteObjects', () => {
    expect(call('DELETE', '/inbox/items/a.csv?versionId=v1').checks).toEqual([{ action: 's3:DeleteObjectVersion', resource: 'arn:aws:s3:::inbox/items/a.csv' }]);
    const body = '<Delete><Object><Key>batches/1</Key></Object><Object><Key>batches/2</Key></Object></Delete>';
    expect(call('POST', '/staging?delete', {}, body).checks.map((c) => c.resource)).toEqual(['arn:aws:s3:::staging/batches/1', 'arn:aws:s3:::staging/batches/2']);
  });

  it('tags with s3:PutObjectTagging and lists with s3:ListBucket and the prefix as condition key', () => {
    expect(call('PUT', '/staging/batches/1?tagging').checks).toEqual([{ action: 's3:PutObjectTagging', resource: 'arn:aws:s3:::staging/batches/1' }]);
    expect(call('GET', '/inbox?list-type=2&prefix=items%2F').checks).toEqual([{ action: 's3:ListBucket', resource: 'arn:aws:s3:::inbox', context: { 's3:prefix': 'items/' } }]);
  });
});
