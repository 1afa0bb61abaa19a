import type { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { stagingReader } from '../../shared/aws/consumer-ports.ts';

// S3 itself is faked: a client whose GetObject returns the given bytes.
const s3With = (text: string) =>
  ({ send: async () => ({ Body: { transformToByteArray: async () => new TextEncoder().encode(text) } }) }) as unknown as S3Client;

describe('a corrupt batch object', () => {
  const corrupt = '{"format":1,"rows":[{"email":"alice@example.com","card":"4111 1111 1111 1111"';

  it('is refused naming the object and its size', async () => {
    await expect(stagingReader(s3With(corrupt), 'staging').readBatch('batches/t/f/0-0.json.gz')).rejects.toThrow(
      `s3://staging/batches/t/f/0-0.json.gz: not a batch object (${corrupt.length} bytes that are not JSON)`,
    );
  });

  it('puts no row value into the error, its cause or its stack', async () => {
    const error = (await stagingReader(s3With(corrupt), 'staging').readBatch('batches/t/f/0-0.json.gz').catch((e: unknown) => e)) as Error;
    const everything = JSON.stringify({ message: error.message, cause: String(error.cause ?? ''), stack: error.stack });
    expect([everything.includes('alice@example.com'), everything.includes('4111')]).toEqual([false, false]);
  });
});
