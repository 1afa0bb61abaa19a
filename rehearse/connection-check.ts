import { type ConnectionBudget, connectionBudget } from '../cdk/connection-budget.ts';
import { FunctionSettings } from '../shared/core/resources.ts';
import type { EventSource } from './stack.ts';
import { type Assembly, ofType } from './template.ts';

export interface ConnectionCheck {
  /** The budget of the synthesised template; undefined when the template has no database of its own to size it by. */
  budget: ConnectionBudget | undefined;
  /** What the rehearsal saw: per function, the most database sessions open at once and the most containers alive at once. */
  observed: Record<string, { sessions: number; containers: number }>;
  problems: string[];
}

type Ref = { Ref?: string };

/**
 * The connection budget read back from the synthesised template, not from the props that made
 * it: the consumer's and replay's event source MaximumConcurrency, the instance class, the
 * parameter group's max_connections and the proxy's MaxConnectionsPercent. A template whose
 * functions could hold more connections than its database accepts fails; so does a run in which
 * a function held more sessions at once than it had containers (the budget counts one each).
 */
export function checkConnectionBudget(
  assembly: Assembly,
  eventSources: readonly EventSource[],
  observed: { sessions: Record<string, { peak: number }>; containers: (kind: string) => number },
): ConnectionCheck {
  const problems: string[] = [];
  const maxOf = (kind: string) => eventSources.find((e) => e.function === kind)?.maximumConcurrency;
  const consumer = maxOf('consumer');
  const replay = maxOf('replay') ?? FunctionSettings.replay.maxConcurrency;
  if (consumer === undefined) problems.push("the consumer's event source has no MaximumConcurrency: its connections are bounded only by the account's concurrency");

  const [instance] = ofType(assembly, 'AWS::RDS::DBInstance');
  let budget: ConnectionBudget | undefined;
  if (instance && consumer !== undefined) {
    const p = instance[1].Properties ?? {};
    const groupId = (p.DBParameterGroupName as Ref | undefined)?.Ref;
    const maxConnections = (assembly.resources[groupId ?? '']?.Properties?.Parameters as Record<string, string> | undefined)?.max_connections;
    const [target] = ofType(assembly, 'AWS::RDS::DBProxyTargetGroup');
    const proxyPercent = (target?.[1].Properties?.ConnectionPoolConfigurationInfo as { MaxConnectionsPercent?: number } | undefined)?.MaxConnectionsPercent;
    budget = connectionBudget({
      consumerConcurrency: consumer,
      replayConcurrency: replay,
      instanceType: String(p.DBInstanceClass).replace(/^db\./, ''),
      ...(maxConnections !== undefined ? { maxConnections: Number(maxConnections) } : {}),
      // A proxy without a MaxConnectionsPercent may use them all (RDS's default is 100).
      ...(target ? { proxyPercent: proxyPercent ?? 100 } : {}),
    });
    if (budget.verdict === 'exceeds' || budget.verdict === 'unknown') problems.push(budget.message);
  }

  const seen: ConnectionCheck['observed'] = {};
  for (const [kind, session] of Object.entries(observed.sessions)) {
    const containers = observed.containers(kind);
    seen[kind] = { sessions: session.peak, containers };
    if (session.peak > containers) problems.push(`${kind} held ${session.peak} database sessions at once with ${containers} containers: the budget counts one connection per container`);
  }
  return { budget, observed: seen, problems };
}
