import { describe, expect, test } from 'vitest';
import { fileIdOf } from '../../shared/core/batch.ts';

// The producer (from the S3 event) and `landfall run` (from the upload's answer) must compute
// the same id, however S3 or an emulator spells "no version".
describe('fileIdOf', () => {
  const base = { bucket: 'inbox', key: 'orders/a.csv', etag: 'abc123' };

  test.each([undefined, null, '', 'null'])('version id %j is no version: the ETag decides', (versionId) => {
    expect(fileIdOf({ ...base, versionId })).toBe(fileIdOf({ ...base, versionId: null }));
  });

  test('the quotes S3 puts around an ETag do not change the id', () => {
    expect(fileIdOf({ ...base, etag: '"abc123"' })).toBe(fileIdOf(base));
  });

  test('a real version id decides over the ETag', () => {
    expect(fileIdOf({ ...base, versionId: 'v1' })).not.toBe(fileIdOf(base));
    expect(fileIdOf({ ...base, versionId: 'v1', etag: 'other' })).toBe(fileIdOf({ ...base, versionId: 'v1' }));
  });
});
