import type { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { classifyFailure, classifyPgError } from '../core/classify-pg-error.ts';
import { EnvVar } from '../environment/env.ts';
import { type FunctionKey, MetricContract } from '../core/resources.ts';
import type { BatchOutcome, BatchPorts } from '../consumer/consume-batch.ts';
import type { ChangeVisibility } from '../aws/sqs-visibility.ts';
import type { RemovalOutcome } from '../postgres/snapshot-removal.ts';

export interface BatchHandlerOptions {
  /** Called on the first invocation: the connection and clients live as long as the container. */
  ports: () => BatchPorts | Promise<BatchPorts>;
  /**
   * The function's own queue (the batches queue for the consumer, the DLQ for replay), to make a
   * failed record visible again after a short backoff (fifo-handler.ts). Without it a failed
   * record comes back after the queue's visibility timeout.
   */
  visibility?: () => ChangeVisibility | Promise<ChangeVisibility>;
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

/**
 * What a handler logs of a failed batch: the error's message, name and code (never row values
 * or parameters) and its class. Every class is thrown for SQS to redeliver: `transient` rides out
 * an outage, and `bug` or `config` come again too, so a fix deployed or made meanwhile applies the
 * batch; the queue's redrive policy (maxReceiveCount) then moves it on, so nothing is retried
 * forever and nothing is dropped.
 */
export function failureFields(error: unknown) {
  const e = error as { name?: string; message?: string; code?: unknown };
  return { error: e?.message ?? String(error), errorName: e?.name, code: typeof e?.code === 'string' ? e.code : undefined, errorClass: classifyPgError(error), belongsTo: classifyFailure(error).scope };
}

/** A snapshot file's removal as a log line carries it: its state and counts, never a scope's values (a held reason names them). */
export function removalFields(removal: RemovalOutcome): Record<string, unknown> {
  if (removal.state === 'done') return { state: removal.state, removed: removal.removed, scopes: removal.scopes, superseded: removal.superseded, already: removal.already };
  if (removal.state === 'held') return { state: removal.state, code: removal.code, wouldRemove: removal.numbers.removed, stored: removal.numbers.stored };
  return { state: removal.state };
}
