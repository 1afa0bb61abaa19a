import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
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
