import type { S3Client } from '@aws-sdk/client-s3';
import { EnvVar } from '../shared/environment/env.ts';
import { CliError, type CliIo } from './context.ts';
import { devClients, landfallHome, readDevState } from './local.ts';

export interface Staging {
  s3: S3Client;
  bucket: string;
  close(): void;
}

/**
 * The staging bucket and a client for it: LANDFALL_STAGING_BUCKET with AWS clients from the
 * environment (AWS_ENDPOINT_URL for an emulator) when set, as DATABASE_URL wins over a running
 * `landfall dev`; else the running `landfall dev`'s.
 */
export async function openStaging(env: CliIo['env'], doing = 'replay reads the batch'): Promise<Staging> {
  const bucket = env[EnvVar.stagingBucket];
  if (bucket) {
    // Loaded when used: the AWS SDK is not part of the CLI's start-up (see cli/command-table.ts).
    const { awsClientOptionsFromEnv, createS3Client } = await import('../shared/aws/clients.ts');
    const s3 = createS3Client(awsClientOptionsFromEnv(env));
    return { s3, bucket, close: () => s3.destroy() };
  }
  const dev = readDevState(landfallHome(env));
  if (dev) {
    const { s3, sqs } = await devClients(dev);
    sqs.destroy();
    return { s3, bucket: dev.buckets.staging, close: () => s3.destroy() };
  }
  throw new CliError(`${doing} from the staging bucket: run it beside a running \`landfall dev\`, or set ${EnvVar.stagingBucket} (with AWS credentials)`, 2);
}

