import { describe, expect, it, vi } from 'vitest';
import { Logger } from '@aws-lambda-powertools/logger';
import { coldStart } from '../../shared/lambda/cold-start.ts';
import { batchSettingsFromEnv } from '../../shared/lambda/consumer-runtime.ts';
import { readFunctionEnv } from '../../shared/environment/function-env.ts';

const config = JSON.stringify({ tables: [{ table: 'orders', conflictKey: ['id'] }] });
const database = { DATABASE_URL: 'postgres://u:p@db.example/app' };

describe('readFunctionEnv', () => {
  it('names every missing variable of the contract', () => {
    expect(() => readFunctionEnv({}, 'consumer')).toThrow(
      'consumer: missing environment variable(s): LANDFALL_STAGING_BUCKET, LANDFALL_DLQ_URL, LANDFALL_SOURCE_QUEUE_URL, LANDFALL_CONFIG_JSON or LANDFALL_CONFIG',
    );
  });

  it('reads replay without a DLQ URL (the stack gives it none)', () => {
    const settings = batchSettingsFromEnv({ LANDFALL_STAGING_BUCKET: 's', LANDFALL_SOURCE_QUEUE_URL: 'dlq', LANDFALL_CONFIG_JSON: config, ...database }, 'replay');
    expect(settings.stagingBucket).toBe('s');
    expect(settings.dlqUrl).toBeUndefined();
  });

  it('reads the consumer DLQ URL', () => {
    const settings = batchSettingsFromEnv({ LANDFALL_STAGING_BUCKET: 's', LANDFALL_DLQ_URL: 'q', LANDFALL_SOURCE_QUEUE_URL: 'b', LANDFALL_CONFIG_JSON: config, ...database }, 'consumer');
    expect(settings.dlqUrl).toBe('q');
  });
});

describe('coldStart', () => {
  it('logs one structured line for a failed set-up and tries again on the next call', async () => {
    const logger = new Logger({ serviceName: 'test', logLevel: 'SILENT' });
    const error = vi.spyOn(logger, 'error');
    let calls = 0;
    const ready = coldStart(logger, () => {
      calls++;
      throw new Error('replay: missing environment variable(s): LANDFALL_STAGING_BUCKET');
    });
    await expect(ready()).rejects.toThrow('LANDFALL_STAGING_BUCKET');
    await expect(ready()).rejects.toThrow('LANDFALL_STAGING_BUCKET');
    expect(calls).toBe(2);
    expect(error).toHaveBeenCalledTimes(2);
    expect(error).toHaveBeenCalledWith('cold start failed; the records come again', {
      error: 'replay: missing environment variable(s): LANDFALL_STAGING_BUCKET',
      errorName: 'Error',
    });
  });

  it('logs a line for each record a failed set-up fails, when records wait on it together', async () => {
    const logger = new Logger({ serviceName: 'test', logLevel: 'SILENT' });
    const error = vi.spyOn(logger, 'error');
    let calls = 0;
    const ready = coldStart(logger, async () => {
      calls++;
      throw new Error('producer: missing environment variable(s): LANDFALL_STAGING_BUCKET');
    });
    const results = await Promise.allSettled([ready(), ready()]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(calls).toBe(1);
    expect(error).toHaveBeenCalledTimes(2);
  });

  it('runs a successful set-up once', async () => {
    const logger = new Logger({ serviceName: 'test', logLevel: 'SILENT' });
    let calls = 0;
    const ready = coldStart(logger, async () => ++calls);
    expect(await ready()).toBe(1);
    expect(await ready()).toBe(1);
  });
});
