import type { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { EnvVar } from '../env.ts';
import { type FunctionKey, MetricContract } from '../resources.ts';
import type { BatchOutcome, BatchPorts } from './consume-batch.ts';

export interface BatchHandlerOptions {
  /** Called on the first invocation: the connection and clients live as long as the container. */
  ports: () => BatchPorts | Promise<BatchPorts>;
  logger?: Logger;
  metrics?: Metrics;
}

/** Emits the row counts of one batch as EMF metrics with the table as dimension. */
export function recordOutcome(metrics: Metrics, table: string, outcome: BatchOutcome) {
  const single = metrics.singleMetric();
  single.addDimension('table', table);
  if (outcome.outcome === 'poisoned') {
    single.addMetric('poisonBatches', MetricUnit.Count, 1);
    return;
  }
  if (outcome.outcome === 'already-applied') {
    single.addMetric('batchesAlreadyApplied', MetricUnit.Count, 1);
    return;
  }
  const c = outcome.counts;
  single.addMetric('batchesApplied', MetricUnit.Count, 1);
  single.addMetric('rowsInserted', MetricUnit.Count, c.inserted);
  single.addMetric('rowsUpdated', MetricUnit.Count, c.updated);
  single.addMetric('rowsUnchanged', MetricUnit.Count, c.unchanged);
  single.addMetric('rowsStale', MetricUnit.Count, c.stale);
  single.addMetric('rowsCollapsed', MetricUnit.Count, c.collapsed);
  single.addMetric('rowsDeleted', MetricUnit.Count, c.deleted);
  single.addMetric('QuarantinedRows', MetricUnit.Count, c.quarantined);
}

/**
 * A function's metrics: the namespace the stack sets (POWERTOOLS_METRICS_NAMESPACE, from its
 * `metricsNamespace` prop, which the alarms watch), else the contract's default; the service
 * name is the contract's, the `service` dimension every alarm names.
 */
export function createFunctionMetrics(kind: FunctionKey, env: NodeJS.ProcessEnv = process.env): Metrics {
  return new Metrics({
    namespace: env[EnvVar.powertoolsMetricsNamespace] || MetricContract.namespace,
    serviceName: MetricContract.serviceNames[kind],
  });
}

/**
 * Wraps a record handler so that every record it fails on adds one `recordsFailed` (the
 * error still propagates: the batch processor reports the record back to SQS).
 */
export function countingFailures<R>(metrics: Metrics, processRecord: (record: R) => Promise<void>): (record: R) => Promise<void> {
  return async (record) => {
    try {
      await processRecord(record);
    } catch (error) {
      metrics.addMetric(MetricContract.failedRecords, MetricUnit.Count, 1);
      throw error;
    }
  };
}
