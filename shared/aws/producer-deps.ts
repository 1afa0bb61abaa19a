import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { LandfallConfig } from '../core/config.ts';
import { storedCatalog } from '../producer/catalog-source.ts';
import type { ProducerDeps } from '../producer/produce-file.ts';
import { s3ObjectStore } from './s3-object-store.ts';
import { sqsBatchSender, type SenderOptions } from './sqs-batch-sender.ts';

export interface ProducerClients {
  config: LandfallConfig;
  s3: S3Client;
  sqs: SQSClient;
  stagingBucket: string;
  batchesQueueUrl: string;
  sender?: SenderOptions;
  /** Has the table's catalog read and its snapshot written again (where the database is in reach: the local stack). */
  rereadCatalog?: (table: string) => Promise<void>;
}

/**
 * The producer's dependencies over real (or emulator) clients; what the handler, the local
 * runtime and the tests hand to `produceFile`.
 *
 * @example produceFile({ ...producerDepsFromClients({ config, s3, sqs, stagingBucket, batchesQueueUrl }), logger }, file)
 */
export function producerDepsFromClients(clients: ProducerClients): ProducerDeps {
  const store = s3ObjectStore(clients.s3);
  return {
    config: clients.config,
    store,
    catalog: storedCatalog(store, clients.stagingBucket, clients.rereadCatalog ? { reread: clients.rereadCatalog } : {}),
    sender: sqsBatchSender(clients.sqs, clients.batchesQueueUrl, clients.sender),
    stagingBucket: clients.stagingBucket,
  };
}
