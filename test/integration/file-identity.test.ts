import type { S3Client } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, test } from 'vitest';
import { parseConfig } from '../../shared/core/config.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { startTestStack } from '../helpers/local-stack.ts';
import { csvOf } from '../helpers/producer-files.ts';

// fauxqs has no bucket versioning. These tests make its answers look like those of S3
// emulators that have it (moto answers CompleteMultipartUpload with VersionId "null" on an
// unversioned bucket; a versioned bucket answers with a real id, and so does HeadObject), and
// check that `landfall run` waits for the file id the producer really uses.
function reportVersionId(s3: S3Client, versionId: string) {
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      if (context.commandName === 'CompleteMultipartUploadCommand' || context.commandName === 'PutObjectCommand' || context.commandName === 'HeadObjectCommand') {
        if (result.output) (result.output as { VersionId?: string }).VersionId = versionId;
      }
      return result;
    },
    { step: 'initialize', name: 'testVersionId' },
  );
}

const db = await createTestDatabase();
const config = parseConfig({ tables: [{ table: 'wide', conflictKey: ['id'], partitions: 2 }], batch: { maxRows: 20_000, maxBytes: 4 * 1024 * 1024 } });
beforeAll(async () => {
  await db.sql`CREATE TABLE wide (id int PRIMARY KEY, pad text NOT NULL)`;
});

// Over 5 MiB, so `run` uploads it in parts (CompleteMultipartUpload answers with the version).
const rows = Array.from({ length: 60_000 }, (_, i) => ({ id: i, pad: 'x'.repeat(100) }));

describe.each([
  ['"null" (moto, unversioned bucket)', 'null'],
  ['a real version id (versioned bucket)', '3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY'],
])('a multipart upload answered with version id %s', (_name, versionId) => {
  test('completes, with every row accounted for', async () => {
    // GIVEN a stack whose S3 answers carry that version id
    const t = await startTestStack(config, db.url);
    reportVersionId(t.stack.s3, versionId);
    await db.sql`TRUNCATE wide`;

    // WHEN a file larger than one part is run
    const receipt = await t.run(t.file(`wide-${versionId.length}.csv`, csvOf(rows)), 'wide');

    // THEN run finds the file the producer registered, and it is complete
    expect(receipt).toMatchObject({ status: 'complete', read: 60_000, inserted: 60_000, addsUp: true });
    expect(await db.sql`SELECT count(*)::int AS n FROM wide`).toEqual([{ n: 60_000 }]);
  }, 120_000);
});
