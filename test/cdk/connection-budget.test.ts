import { describe, expect, it } from 'vitest';
import { availableConnections, connectionBudget, defaultMaxConnections, instanceMemoryGiB } from '../../cdk/connection-budget.ts';

// Issue 24, item 3: the arithmetic behind the synth-time check, the docs table and the rehearsal.

describe('RDS for PostgreSQL default max_connections', () => {
  // What RDS reports (SHOW max_connections) for classes of 2, 4 and 8 GiB: the estimate may be
  // lower (the check stays on the safe side) but never higher, and not far off.
  it.each([
    [2, 198],
    [4, 413],
    [8, 856],
  ])('%d GiB: at most the %d RDS reports, and within 7%%', (memory, reported) => {
    const estimate = defaultMaxConnections(memory);
    expect(estimate).toBeLessThanOrEqual(reported);
    expect(estimate).toBeGreaterThanOrEqual(Math.floor(reported * 0.93));
  });

  it('stops at 5000', () => {
    expect(defaultMaxConnections(512)).toBe(5000);
  });

  it.each([
    ['t4g.micro', 1],
    ['t3.medium', 4],
    ['m7g.large', 8],
    ['r7g.2xlarge', 64],
    ['x2g.large', undefined],
  ])('knows the memory of %s', (instanceType, memory) => {
    expect(instanceMemoryGiB(instanceType)).toBe(memory);
  });
});

describe('the budget', () => {
  it("RDS Proxy gets MaxConnectionsPercent of max_connections, less PostgreSQL's superuser slots", () => {
    expect(availableConnections(1000, 90)).toBe(900);
    expect(availableConnections(74, 90)).toBe(66);
    expect(availableConnections(74, 100)).toBe(69);
  });

  it('counts consumer, replay, the deploy step and operators', () => {
    expect(connectionBudget({ consumerConcurrency: 16, replayConcurrency: 2, instanceType: 't4g.micro', proxyPercent: 90 }).demand).toEqual({
      consumer: 16,
      replay: 2,
      deployStep: 1,
      operators: 2,
      total: 21,
    });
  });

  it('fits, is tight, or exceeds, with the numbers', () => {
    const at = (consumerConcurrency: number) => connectionBudget({ consumerConcurrency, replayConcurrency: 2, instanceType: 't4g.micro', proxyPercent: 90 });
    expect(at(40).verdict).toBe('fits');
    expect(at(50).verdict).toBe('tight');
    expect(at(70)).toMatchObject({ verdict: 'exceeds', available: 66 });
    expect(at(70).message).toMatch(/may hold 75 database connections .* accepts 66 .* 9 too many\. Fix: cap the consumer at 61/);
  });

  it('an unknown class is unknown, and says how to give the number', () => {
    expect(connectionBudget({ consumerConcurrency: 8, replayConcurrency: 2, instanceType: 'x2g.large', proxyPercent: 90 })).toMatchObject({
      verdict: 'unknown',
      message: expect.stringMatching(/db\.x2g\.large is not a class Landfall knows .*-c landfall:dbMaxConnections=N/),
    });
  });

  it('an explicit max_connections wins over the estimate', () => {
    expect(connectionBudget({ consumerConcurrency: 200, replayConcurrency: 2, instanceType: 't4g.micro', maxConnections: 400, proxyPercent: 90 }).verdict).toBe('fits');
  });
});
