import { createS3Client, createSqsClient } from '../../shared/aws/clients.ts';
import { createConsumerHandler } from '../../shared/lambda/consumer-handler.ts';
import { batchPortsFromEnv, visibilityFromEnv } from '../../shared/lambda/consumer-runtime.ts';

/** The consumer Lambda's entry: the handler factory (shared/lambda/consumer-handler.ts) wired to its environment. */
const sqs = createSqsClient();
export const handler = createConsumerHandler({
  ports: () => batchPortsFromEnv(process.env, 'consumer', { s3: createS3Client(), sqs }),
  visibility: () => visibilityFromEnv(process.env, 'consumer', sqs),
});
