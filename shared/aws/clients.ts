import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { EnvVar } from '../environment/env.ts';

export interface AwsClientOptions {
  region?: string;
  /** An emulator (fauxqs, LocalStack); S3 then uses path-style URLs. */
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/**
 * Client options from the environment: `AWS_ENDPOINT_URL` points every client at an emulator
 * (with test credentials when none are set), `AWS_REGION` names the region.
 */
export function awsClientOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): AwsClientOptions {
  const endpoint = env[EnvVar.awsEndpointUrl] || undefined;
  const options: AwsClientOptions = { region: env[EnvVar.awsRegion] || env.AWS_DEFAULT_REGION || 'us-east-1' };
  if (endpoint) {
    options.endpoint = endpoint;
    if (!env.AWS_ACCESS_KEY_ID && !env.AWS_PROFILE) options.credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
  }
  return options;
}

export function createS3Client(options: AwsClientOptions = awsClientOptionsFromEnv()): S3Client {
  return new S3Client({
    region: options.region ?? 'us-east-1',
    ...(options.credentials ? { credentials: options.credentials } : {}),
    ...(options.endpoint
      ? {
          endpoint: options.endpoint,
          forcePathStyle: true,
          // Emulators do not all know the newer default checksums.
          requestChecksumCalculation: 'WHEN_REQUIRED' as const,
          responseChecksumValidation: 'WHEN_REQUIRED' as const,
        }
      : {}),
  });
}

export function createSqsClient(options: AwsClientOptions = awsClientOptionsFromEnv()): SQSClient {
  return new SQSClient({
    region: options.region ?? 'us-east-1',
    ...(options.credentials ? { credentials: options.credentials } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
  });
}
