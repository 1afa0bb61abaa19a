import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { beforeEach, describe, expect, test } from 'vitest';
import { createProducerHandler } from '../../shared/lambda/producer-handler.ts';
import { producerSettingsFromEnv } from '../../shared/lambda/producer-settings.ts';
import { csvOf, orderRows, producerConfigFactory } from '../helpers/producer-files.ts';
import { startProducerEmulator } from '../helpers/producer-emulator.ts';
import { s3EventBody } from '../helpers/s3-event.ts';
import { sqsEventOf, sqsRecordFactory } from '../helpers/sqs-event.ts';

const emulator = await startProducerEmulator();
const context = { functionName: 'producer', awsRequestId: 'r1', getRemainingTimeInMillis: () => 60_000 } as unknown as Context;
const handler = createProducerHandler({
  deps: () => emulator.deps(producerConfigFactory()),
  logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
  metrics: new Metrics({ namespace: 'Test', serviceName: 'test' }),
});

beforeEach(() => emulator.reset());

describe('producer handler', () => {
  test('produces the files of every intake record and reports no failure', async () => {
    const a = await emulator.drop('orders/h1.csv', csvOf(orderRows(5)));
    const b = await emulator.drop('orders/h2.csv', csvOf(orderRows(5, 100)));
    const result = await handler(sqsEventOf(sqsRecordFactory(s3EventBody(a)), sqsRecordFactory(s3EventBody(b))), context);
    expect([result.batchItemFailures, (await emulator.list('landfall-staging', 'manifests/')).length]).toEqual([[], 2]);
  });

  test('a record that is not an S3 event is reported as a failure, the others are not', async () => {
    const good = await emulator.drop('orders/h3.csv', csvOf(orderRows(5)));
    const bad = sqsRecordFactory('not json');
    const result = await handler(sqsEventOf(sqsRecordFactory(s3EventBody(good)), bad), context);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: bad.messageId }]);
  });

  test('an unreadable file is acknowledged', async () => {
    const record = await emulator.drop('orders/h4.parquet', 'not parquet');
    const result = await handler(sqsEventOf(sqsRecordFactory(s3EventBody(record))), context);
    expect(result.batchItemFailures).toEqual([]);
  });
});

describe('producerSettingsFromEnv', () => {
  test('names every missing variable', () => {
    expect(() => producerSettingsFromEnv({})).toThrow(
      'missing environment variable(s): LANDFALL_STAGING_BUCKET, LANDFALL_BATCHES_QUEUE_URL, LANDFALL_CONFIG_JSON or LANDFALL_CONFIG',
    );
  });

  test('reads an inline config', () => {
    const settings = producerSettingsFromEnv({
      LANDFALL_STAGING_BUCKET: 's',
      LANDFALL_BATCHES_QUEUE_URL: 'q',
      LANDFALL_CONFIG_JSON: JSON.stringify({ tables: [{ table: 'orders', conflictKey: ['id'] }] }),
    });
    expect(settings.config.tables[0]!.prefix).toBe('orders/');
  });
});
