import { expect, test } from 'vitest';
import { rehearse } from '../../rehearse/main.ts';

// The deploy rehearsal (npm run rehearse) inside npm test, so CI runs it: the synthesised stack in
// both database modes, bundled functions, TLS-only database, IAM evaluated for every call.
test('the synthesised stack passes the deploy rehearsal in both database modes', async () => {
  const lines: string[] = [];
  const { ok, summaries } = await rehearse((line) => {
    lines.push(line);
    console.log(line);
  });
  const report = lines.join('\n');
  expect(summaries.map((s) => s.mode), report).toHaveLength(2);
  for (const s of summaries) {
    expect(s.scenarios.filter((x) => !x.ok), report).toEqual([]);
    expect(s.scenarios.length).toBeGreaterThanOrEqual(13);
    expect(s.callsChecked).toBeGreaterThan(100);
    expect(s.denied, report).toEqual([]);
    expect(s.unusedGrants.filter((g) => !g.review), report).toEqual([]);
    // Issue 24: every alarm can notify, the connection budget holds, and a file continued more
    // than 16 times got past the simulated loop detection.
    expect(s.alarmDelivery.problems, report).toEqual([]);
    expect(s.alarmDelivery.alarms).toBeGreaterThan(10);
    expect(s.connections.problems, report).toEqual([]);
    expect(s.loops.producer).toMatchObject({ recursiveLoop: 'Allow', dropped: 0 });
    expect(s.loops.producer!.maxHops).toBeGreaterThan(16);
  }
  expect(ok, report).toBe(true);
}, 900_000);
