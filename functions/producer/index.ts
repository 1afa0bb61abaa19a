import { createS3Client, createSqsClient } from '../../shared/aws/clients.ts';
import { producerDepsFromClients } from '../../shared/aws/producer-deps.ts';
import { createProducerHandler } from '../../shared/lambda/producer-handler.ts';
import { producerSettingsFromEnv } from '../../shared/lambda/producer-settings.ts';

/** The producer Lambda's entry: the handler factory (shared/lambda/producer-handler.ts) wired to its environment. */
export const handler = createProducerHandler({
  deps: () => producerDepsFromClients({ ...producerSettingsFromEnv(process.env), s3: createS3Client(), sqs: createSqsClient() }),
});
