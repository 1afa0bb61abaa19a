import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { MetricContract } from '../resources.ts';
import type { BatchOutcome, BatchPorts } from './consume-batch.ts';

export interface BatchHandlerOptions {
  /** Called on the first invocation: the connection and clients live as long as the container. */
  ports: () => BatchPorts | Promise<BatchPorts>;
  logger?: Logger;
  metrics?: Metrics;
}

/**
 * Emits the row counts of one batch as EMF metrics with the table as dimension (the contract
 * the alarms and the dashboard read, MetricContract). One single-metric document per value:
 * Powertools' single metric publishes on every addMetric and drops its dimensions with it, so a
 * second addMetric on the same one went out without the table, where no alarm looks (found by
 * the deploy rehearsal).
 */
export function recordOutcome(metrics: Metrics, table: string, outcome: BatchOutcome) {
  const emit = (name: string, value: number) => {
    const single = metrics.singleMetric();
    single.addDimension(MetricContract.tableDimension, table);
    single.addMetric(name, MetricUnit.Count, value);
  };
  if (outcome.outcome === 'poisoned') return emit('poisonBatches', 1);
  if (outcome.outcome === 'already-applied') return emit('batchesAlreadyApplied', 1);
  const c = outcome.counts;
  const rows = MetricContract.rows;
  emit('batchesApplied', 1);
  emit(rows.inserted, c.inserted);
  emit(rows.updated, c.updated);
  emit(rows.unchanged, c.unchanged);
  emit(rows.stale, c.stale);
  emit(rows.collapsed, c.collapsed);
  emit(rows.deleted, c.deleted);
  emit(rows.quarantined, c.quarantined);
}
