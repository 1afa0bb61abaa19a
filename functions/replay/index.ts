import { createS3Client, createSqsClient } from '../../shared/aws/clients.ts';
import { batchPortsFromEnv, visibilityFromEnv } from '../../shared/lambda/consumer-runtime.ts';
import { createReplayHandler } from '../../shared/lambda/replay-handler.ts';

/** The replay Lambda's entry: the handler factory (shared/lambda/replay-handler.ts) wired to its environment. */
const sqs = createSqsClient();
export const handler = createReplayHandler({
  ports: () => batchPortsFromEnv(process.env, 'replay', { s3: createS3Client(), sqs }),
  visibility: () => visibilityFromEnv(process.env, 'replay', sqs),
});
