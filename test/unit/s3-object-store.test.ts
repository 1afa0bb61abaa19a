import { DeleteObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { s3ObjectStore } from '../../shared/aws/s3-object-store.ts';

// S3 itself is the only thing faked here: a client that answers HeadObject and records calls.
function fakeS3(head: { VersionId?: string; ETag?: string } | 'missing') {
  const sent: { command: string; input: Record<string, unknown> }[] = [];
  const client = {
    async send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
      sent.push({ command: command.constructor.name, input: command.input });
      if (command instanceof HeadObjectCommand) {
        if (head === 'missing') throw Object.assign(new Error('NotFound'), { name: 'NotFound', $metadata: { httpStatusCode: 404 } });
        return head;
      }
      return {};
    },
  } as unknown as S3Client;
  return { client, sent, deletes: () => sent.filter((c) => c.command === DeleteObjectCommand.name).map((c) => c.input) };
}

const ref = { bucket: 'inbox', key: 'orders/a.csv', versionId: 'v1', etag: 'abc' };

describe('moving an unreadable file aside never deletes a version permanently', () => {
  it('a versioned file that is still current gets a delete marker: no version id, guarded by its ETag', async () => {
    const s3 = fakeS3({ VersionId: 'v1', ETag: '"abc"' });
    await s3ObjectStore(s3.client).remove(ref);
    expect(s3.deletes()).toEqual([{ Bucket: 'inbox', Key: 'orders/a.csv', IfMatch: '"abc"' }]);
  });

  it('a newer upload of the same key is left alone', async () => {
    const s3 = fakeS3({ VersionId: 'v2', ETag: '"def"' });
    await s3ObjectStore(s3.client).remove(ref);
    expect(s3.deletes()).toEqual([]);
  });

  it('a key that is already gone needs nothing', async () => {
    const s3 = fakeS3('missing');
    await s3ObjectStore(s3.client).remove(ref);
    expect(s3.deletes()).toEqual([]);
  });

  it('an unversioned file is deleted only while it still has the notified ETag', async () => {
    const s3 = fakeS3({ ETag: '"abc"' });
    await s3ObjectStore(s3.client).remove({ ...ref, versionId: null });
    expect(s3.deletes()).toEqual([{ Bucket: 'inbox', Key: 'orders/a.csv', IfMatch: '"abc"' }]);
  });
});
