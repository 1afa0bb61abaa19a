import type { LogLine } from './lambda.ts';
import { type Assembly, ofType } from './template.ts';

export interface MetricRef {
  namespace: string;
  metric: string;
  dimensions: Record<string, string>;
  watchedBy: string;
}

interface EmfDoc {
  namespace: string;
  metrics: string[];
  dimensionSets: string[][];
  values: Record<string, unknown>;
}

/** The EMF documents in the functions' output (Powertools Metrics writes one JSON line each). */
export function emfDocs(logs: readonly LogLine[]): EmfDoc[] {
  return logs.flatMap((line) => {
    try {
      const json = JSON.parse(line.text) as { _aws?: { CloudWatchMetrics?: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] } } & Record<string, unknown>;
      return (json._aws?.CloudWatchMetrics ?? []).map((d) => ({ namespace: d.Namespace, metrics: d.Metrics.map((m) => m.Name), dimensionSets: d.Dimensions, values: json }));
    } catch {
      return [];
    }
  });
}

/** The custom metrics (not AWS/…) the template's alarms and dashboard read. */
export function watchedMetrics(assembly: Assembly, resolve: (v: unknown) => unknown): MetricRef[] {
  const refs: MetricRef[] = [];
  const dims = (list: unknown) => Object.fromEntries(((list as { Name: string; Value: string }[] | undefined) ?? []).map((d) => [d.Name, d.Value]));
  for (const [id, alarm] of ofType(assembly, 'AWS::CloudWatch::Alarm')) {
    const p = resolve(alarm.Properties) as Record<string, unknown>;
    if (p.MetricName) refs.push({ namespace: p.Namespace as string, metric: p.MetricName as string, dimensions: dims(p.Dimensions), watchedBy: `alarm ${id}` });
    for (const m of (p.Metrics as { MetricStat?: { Metric: { Namespace: string; MetricName: string; Dimensions?: unknown } } }[] | undefined) ?? []) {
      if (m.MetricStat) refs.push({ namespace: m.MetricStat.Metric.Namespace, metric: m.MetricStat.Metric.MetricName, dimensions: dims(m.MetricStat.Metric.Dimensions), watchedBy: `alarm ${id}` });
    }
  }
  for (const [id, dashboard] of ofType(assembly, 'AWS::CloudWatch::Dashboard')) {
    const body = JSON.parse(resolve(dashboard.Properties!.DashboardBody) as string) as { widgets: { properties?: { metrics?: unknown[][] } }[] };
    for (const widget of body.widgets) {
      for (const metric of widget.properties?.metrics ?? []) {
        const [namespace, name, ...rest] = metric;
        if (typeof namespace !== 'string' || typeof name !== 'string') continue;
        const pairs = rest.filter((x) => typeof x === 'string') as string[];
        const dimensions: Record<string, string> = {};
        for (let i = 0; i + 1 < pairs.length; i += 2) dimensions[pairs[i]!] = pairs[i + 1]!;
        refs.push({ namespace, metric: name, dimensions, watchedBy: `dashboard ${id}` });
      }
    }
  }
  return refs.filter((r) => !r.namespace.startsWith('AWS/'));
}

/**
 * Every custom metric an alarm or the dashboard reads must have been emitted (EMF) with exactly
 * that namespace, name and dimension set, and values; and a quarantined row must be a metric
 * value an alarm sees. Returns the problems.
 */
export function checkObservability(assembly: Assembly, resolve: (v: unknown) => unknown, logs: readonly LogLine[]): string[] {
  const docs = emfDocs(logs);
  const problems: string[] = [];
  const watched = watchedMetrics(assembly, resolve);
  if (docs.length === 0) problems.push('no function emitted an EMF metric');
  const emitting = (ref: MetricRef) =>
    docs.filter(
      (d) =>
        d.namespace === ref.namespace &&
        d.metrics.includes(ref.metric) &&
        d.dimensionSets.some((set) => set.length === Object.keys(ref.dimensions).length && set.every((name) => d.values[name] === ref.dimensions[name])),
    );
  const seen = new Set<string>();
  for (const ref of watched) {
    const key = JSON.stringify([ref.namespace, ref.metric, ref.dimensions]);
    if (seen.has(key)) continue;
    seen.add(key);
    if (emitting(ref).length === 0) problems.push(`${ref.watchedBy} reads ${ref.namespace}/${ref.metric} ${JSON.stringify(ref.dimensions)}, which no function emitted`);
  }
  const quarantineAlarms = watched.filter((r) => r.watchedBy.startsWith('alarm') && /quarantine/i.test(r.metric));
  const raised = quarantineAlarms.some((ref) => emitting(ref).some((d) => Number(d.values[ref.metric]) > 0));
  if (!raised) problems.push('no alarm saw the quarantined rows (no QuarantinedRows value > 0 under an alarmed namespace and dimensions)');
  return problems;
}
