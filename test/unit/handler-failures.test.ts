import { FullBatchFailureError } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSRecord } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createConsumerHandler } from '../../shared/lambda/consumer-handler.ts';
import { createReplayHandler } from '../../shared/lambda/replay-handler.ts';
import { createFunctionMetrics } from '../../shared/lambda/observability.ts';
import { fifoQueueHandler } from '../../shared/lambda/fifo-handler.ts';
import { EnvVar } from '../../shared/environment/env.ts';
import { MetricContract } from '../../shared/core/resources.ts';
import { sqsEventOf, sqsRecordFactory } from '../helpers/sqs-event.ts';

const context = { functionName: 'test', awsRequestId: 'req-1' } as Context;
const silent = () => new Logger({ logLevel: 'SILENT' });
const fifoRecord = (body: string, group: string): SQSRecord => {
  const record = sqsRecordFactory(body);
  return { ...record, attributes: { ...record.attributes, MessageGroupId: group } };
};

/** The EMF documents a function printed (Powertools writes them to stdout, one JSON per line). */
function captureEmf() {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  });
  return {
    documents: () => {
      spy.mockRestore();
      return lines
        .map((line) => JSON.parse(line) as Record<string, unknown> & { _aws?: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] } })
        .filter((doc) => doc._aws);
    },
  };
}

/** The JSON lines a function printed (Powertools' logger writes to stdout or stderr, one JSON per line). */
function captureLines() {
  const lines: string[] = [];
  const capture = (chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  };
  const spies = [vi.spyOn(process.stdout, 'write').mockImplementation(capture), vi.spyOn(process.stderr, 'write').mockImplementation(capture)];
  return {
    lines: () => {
      for (const spy of spies) spy.mockRestore();
      return lines.flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
    },
  };
}

afterEach(() => {
  vi.restoreAllMocks();
  delete process.env[EnvVar.powertoolsMetricsNamespace];
});

describe('a record that fails is a metric an alarm sees', () => {
  it('one failed record of two is reported back to SQS and counted once', async () => {
    // GIVEN a FIFO handler whose record processing fails for one group only
    const metrics = createFunctionMetrics('consumer', {});
    const handler = fifoQueueHandler(silent(), metrics, async (record) => {
      if (record.body === 'bad') throw new Error('transient');
    });
    const bad = fifoRecord('bad', 't#0');
    const emf = captureEmf();
    // WHEN it gets one good and one bad record
    const response = await handler(sqsEventOf(fifoRecord('good', 't#1'), bad), context);
    // THEN the bad one is reported, and recordsFailed says 1
    const [doc] = emf.documents();
    expect([response.batchItemFailures, doc?.[MetricContract.failedRecords]]).toEqual([[{ itemIdentifier: bad.messageId }], 1]);
  });

  it('an invocation whose every record failed throws, so Lambda counts it as an error', async () => {
    const handler = fifoQueueHandler(silent(), createFunctionMetrics('consumer', {}), async () => {
      throw new Error('database unreachable');
    });
    const emf = captureEmf();
    await expect(handler(sqsEventOf(fifoRecord('a', 't#0'), fifoRecord('b', 't#1')), context)).rejects.toBeInstanceOf(FullBatchFailureError);
    // Powertools keeps repeated values of one metric as a list; CloudWatch sums them (Sum = 2).
    expect(emf.documents().map((doc) => doc[MetricContract.failedRecords])).toEqual([[1, 1]]);
  });

  it.each([
    ['consumer', createConsumerHandler],
    ['replay', createReplayHandler],
  ] as const)('the %s counts a cold start that fails under its service name and the configured namespace', async (kind, create) => {
    // GIVEN the stack's namespace in the environment and a cold start that cannot reach the database
    process.env[EnvVar.powertoolsMetricsNamespace] = 'Acme/Pipelines';
    const handler = create({ logger: silent(), ports: () => Promise.reject(new Error('no route to the proxy')) });
    const emf = captureEmf();
    // WHEN a record arrives
    await expect(handler(sqsEventOf(fifoRecord('{}', 't#0')), context)).rejects.toBeInstanceOf(FullBatchFailureError);
    // THEN the failure is in the namespace and with the service dimension the alarm watches
    const [doc] = emf.documents();
    expect({
      namespace: doc?._aws?.CloudWatchMetrics[0]?.Namespace,
      service: doc?.service,
      failed: doc?.[MetricContract.failedRecords],
    }).toEqual({ namespace: 'Acme/Pipelines', service: MetricContract.serviceNames[kind], failed: 1 });
  });
});

describe('in-process retries of a refused login (28P01, 28000: the secret is read again)', () => {
  const pgError = (code: string) => Object.assign(new Error('login refused'), { code, severity: 'FATAL' });
  const attemptsOf = async (code: string) => {
    let attempts = 0;
    const handler = fifoQueueHandler(silent(), createFunctionMetrics('consumer', {}), async () => {
      attempts++;
      throw pgError(code);
    }, { random: () => 0 });
    captureEmf();
    await handler(sqsEventOf(fifoRecord('a', 't#0')), { ...context, getRemainingTimeInMillis: () => 60_000 } as Context).catch(() => {});
    return attempts;
  };

  it.each(['28P01', '28000'])('%s is tried once more in the invocation (the login after it reads the secret again), not five times', async (code) => {
    expect(await attemptsOf(code)).toBe(2);
  });

  it('another transient failure (40001) keeps the five attempts', async () => {
    expect(await attemptsOf('40001')).toBe(5);
  });
});

describe('the handlers log under the contract service name', () => {
  // The alarms, the dashboard and the log queries all look for MetricContract.serviceNames.
  it.each([
    ['consumer', createConsumerHandler],
    ['replay', createReplayHandler],
  ] as const)('the %s handler, given no logger, logs a failed cold start under the contract service name', async (kind, create) => {
    // GIVEN the handler with its own logger and a cold start that fails
    const handler = create({ metrics: createFunctionMetrics(kind, {}), ports: () => Promise.reject(new Error('no route to the proxy')) });
    const output = captureLines();
    // WHEN a record arrives
    await expect(handler(sqsEventOf(fifoRecord('{}', 't#0')), context)).rejects.toBeInstanceOf(FullBatchFailureError);
    // THEN its error line carries the contract's service name
    const failed = output.lines().find((line) => line.message === 'cold start failed; the records come again');
    expect(failed?.service).toBe(MetricContract.serviceNames[kind]);
  });
});

describe('function metrics', () => {
  it('default to the contract namespace when the stack sets none', () => {
    const metrics = createFunctionMetrics('producer', {});
    metrics.addMetric('x', 'Count', 1);
    expect(metrics.serializeMetrics()._aws.CloudWatchMetrics[0]?.Namespace).toBe(MetricContract.namespace);
  });
});
