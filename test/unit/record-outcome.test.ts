import { afterEach, describe, expect, it, vi } from 'vitest';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { recordOutcome } from '../../shared/lambda/observability.ts';
import { MetricContract } from '../../shared/core/resources.ts';

type Emf = { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] } } & Record<string, unknown>;

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe('recordOutcome', () => {
  it('emits every row count with the service and table dimensions the alarms and the dashboard read', () => {
    // GIVEN Powertools writing EMF to the global console (POWERTOOLS_DEV), as it writes to stdout in Lambda
    vi.stubEnv('POWERTOOLS_DEV', 'true');
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: unknown) => void lines.push(String(line)));
    const metrics = new Metrics({ namespace: MetricContract.namespace, serviceName: MetricContract.serviceNames.consumer });
    // WHEN a batch is applied
    recordOutcome(metrics, 'public.items', {
      outcome: 'applied',
      counts: { read: 10, collapsed: 1, inserted: 5, updated: 1, unchanged: 1, stale: 1, deleted: 0, quarantined: 1 },
    } as never);
    // THEN each row metric is its own EMF document with both dimensions
    const docs = lines.map((l) => JSON.parse(l) as Emf);
    for (const name of Object.values(MetricContract.rows)) {
      const doc = docs.find((d) => d._aws.CloudWatchMetrics[0]!.Metrics.some((m) => m.Name === name));
      expect(doc, name).toBeDefined();
      expect(doc!._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([['service', MetricContract.tableDimension]]);
      expect(doc![MetricContract.tableDimension]).toBe('public.items');
    }
    expect(docs.find((d) => MetricContract.rows.quarantined in d)![MetricContract.rows.quarantined]).toBe(1);
  });
});
