import { describe, expect, it } from 'vitest';
import { checkConnectionBudget } from '../../rehearse/connection-check.ts';
import type { EventSource } from '../../rehearse/stack.ts';
import type { Assembly, CfnResource } from '../../rehearse/template.ts';
import { synth } from '../cdk/helpers.ts';

// Issue 24, item 3: the rehearsal reads the budget back from the synthesised template.

/** The event sources as the rehearsal reads them from the template (rehearse/stack.ts). */
function fromTemplate(resources: Record<string, CfnResource>): { assembly: Assembly; eventSources: EventSource[] } {
  const kindOf = (fnId: string) => String((resources[fnId]!.Properties!.FunctionName as string).replace('landfall-', '')) as EventSource['function'];
  const eventSources = Object.values(resources)
    .filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping')
    .map((r) => ({
      function: kindOf((r.Properties!.FunctionName as { Ref: string }).Ref),
      queueId: '',
      batchSize: 10,
      maximumConcurrency: (r.Properties!.ScalingConfig as { MaximumConcurrency?: number } | undefined)?.MaximumConcurrency,
      reportBatchItemFailures: true,
    }));
  return { assembly: { dir: '', stackName: 'Landfall', resources }, eventSources };
}
const none = { sessions: {}, containers: () => 0 };

describe('the connection budget of a template', () => {
  it('the default template fits', () => {
    const { assembly, eventSources } = fromTemplate(synth().template.toJSON().Resources);
    const check = checkConnectionBudget(assembly, eventSources, none);
    expect(check.problems).toEqual([]);
    expect(check.budget).toMatchObject({ verdict: 'fits', available: 66 });
  });

  it('a template deployed with connectionBudget "warn" past the budget fails the rehearsal', () => {
    const { assembly, eventSources } = fromTemplate(synth({ consumerMaxConcurrency: 200, connectionBudget: 'warn' }).template.toJSON().Resources);
    expect(checkConnectionBudget(assembly, eventSources, none).problems[0]).toMatch(/may hold 205 database connections .* 139 too many/);
  });

  it("reads the parameter group's max_connections", () => {
    const { assembly, eventSources } = fromTemplate(synth({ consumerMaxConcurrency: 200, database: { mode: 'new', maxConnections: 400 } }).template.toJSON().Resources);
    expect(checkConnectionBudget(assembly, eventSources, none).budget).toMatchObject({ verdict: 'fits', maxConnections: 400, available: 360 });
  });

  it('a function that held more sessions at once than it had containers is reported', () => {
    const { assembly, eventSources } = fromTemplate(synth().template.toJSON().Resources);
    const check = checkConnectionBudget(assembly, eventSources, { sessions: { consumer: { peak: 3 }, replay: { peak: 1 } }, containers: (kind) => (kind === 'consumer' ? 2 : 1) });
    expect(check.problems).toEqual(['consumer held 3 database sessions at once with 2 containers: the budget counts one connection per container']);
  });
});
