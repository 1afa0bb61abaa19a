import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { availableConnections, connectionDemand, defaultMaxConnections, instanceMemoryGiB } from '../../cdk/connection-budget.ts';
import { ContextKey } from '../../cdk/context.ts';
import { PROJECT_ROOT } from '../../cdk/landfall-stack.ts';
import { MessageAgeAlarms } from '../../cdk/monitoring.ts';
import { DEFAULT_MAX_INVOCATIONS_PER_FILE, PROXY_MAX_CONNECTIONS_PERCENT } from '../../cdk/props.ts';

// docs/deploy.md agrees with the stack: its options, its connection table, its alarm thresholds.

const doc = readFileSync(join(PROJECT_ROOT, 'docs/deploy.md'), 'utf8');
/** SQS accepts at most this maximum concurrency for an event source. */
const EVENT_SOURCE_MAX = 1000;

describe('docs/deploy.md', () => {
  it.each(Object.values(ContextKey))('documents the context key %s', (key) => {
    expect(doc).toContain(`\`${key}\``);
  });

  it('the connection table is what the budget computes for each class', () => {
    const rows = [...doc.matchAll(/^\| `([a-z0-9]+\.[a-z0-9]+)` \| (\d+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|/gm)];
    expect(rows.length).toBeGreaterThan(8);
    for (const [, instanceType, , memory, maxConnections, available, partitions] of rows) {
      const expectedMax = defaultMaxConnections(instanceMemoryGiB(instanceType!)!);
      const expectedAvailable = availableConnections(expectedMax, PROXY_MAX_CONNECTIONS_PERCENT);
      const expectedPartitions = Math.min(EVENT_SOURCE_MAX, expectedAvailable - connectionDemand(0, 2).total);
      expect([instanceType, Number(memory), Number(maxConnections), Number(available), Number(partitions)]).toEqual([
        instanceType,
        instanceMemoryGiB(instanceType!),
        expectedMax,
        expectedAvailable,
        expectedPartitions,
      ]);
    }
  });

  it("states the age alarms' thresholds", () => {
    const hours = (s: number) => `${s / 3600} hours`;
    const days = (s: number) => `${s / 86400} days`;
    expect(doc).toContain(`batches DLQ (${hours(MessageAgeAlarms.batchesDlq)}), the parking queue (${days(MessageAgeAlarms.parking)}), the intake DLQ (${days(MessageAgeAlarms.intakeDlq)})`);
  });

  it('states the per-file cap of producer invocations', () => {
    expect(doc).toContain(`default ${DEFAULT_MAX_INVOCATIONS_PER_FILE},`);
  });
});
