import { describe, expect, it } from 'vitest';
import {
  inProcessPauseMs,
  mayRetryInProcess,
  mayStartRecord,
  orderByReceiveCount,
  RecordFailure,
  RetryPolicy,
  statementTimeoutMs,
  visibilityBackoffSeconds,
  visibilityChanges,
  type QueueRecord,
} from '../../shared/core/retry-policy.ts';
import { QueueSettings } from '../../shared/core/resources.ts';

const record = (messageId: string, group: string | undefined, receiveCount = 1): QueueRecord => ({
  messageId,
  attributes: { ApproximateReceiveCount: String(receiveCount), ...(group ? { MessageGroupId: group } : {}) },
});

describe('visibility backoff', () => {
  it('grows by three from one second, within its jitter, to the cap', () => {
    // GIVEN the lowest and the highest jitter WHEN the receive count grows THEN 1, 3, 9, 27 … s, halved at the lowest
    expect([1, 2, 3, 4, 5].map((n) => visibilityBackoffSeconds(n, 0.9999999))).toEqual([1, 3, 9, 27, 81]);
    expect([1, 2, 3, 4, 5].map((n) => visibilityBackoffSeconds(n, 0))).toEqual([1, 2, 5, 14, 41]);
    expect(visibilityBackoffSeconds(30, 0.9999999)).toBe(RetryPolicy.visibility.batches.maxSeconds);
  });

  it.each([
    ['batches', RetryPolicy.visibility.batches],
    ['batchesDlq', RetryPolicy.visibility.batchesDlq],
  ] as const)('%s: the waits between its receives add up to the better part of an hour', (queue, schedule) => {
    const receives = QueueSettings[queue].deadLetter.maxReceiveCount;
    const total = (random: number) => Array.from({ length: receives - 1 }, (_, i) => visibilityBackoffSeconds(i + 1, random, schedule)).reduce((a, b) => a + b, 0);
    expect(total(0)).toBeGreaterThan(24 * 60);
    expect(total(0.5)).toBeGreaterThan(35 * 60);
    expect(total(0.9999999)).toBeLessThan(90 * 60);
  });

  it("rides out about an hour over the batches queue's receives, the first retries within seconds", () => {
    const receives = QueueSettings.batches.deadLetter.maxReceiveCount;
    const waits = Array.from({ length: receives - 1 }, (_, i) => visibilityBackoffSeconds(i + 1, 0.5));
    expect(waits.slice(0, 3).every((s) => s < 10)).toBe(true);
    const total = waits.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(45 * 60);
    expect(total).toBeLessThan(90 * 60);
  });
});

describe('in-process retries', () => {
  it('pause 250 ms doubling, with equal jitter, up to the cap', () => {
    expect([1, 2, 3, 4].map((a) => inProcessPauseMs(a, 0.9999999))).toEqual([250, 500, 1000, 2000]);
    expect(inProcessPauseMs(1, 0)).toBe(125);
    expect(inProcessPauseMs(20, 0.9999999)).toBe(RetryPolicy.inProcess.maxPauseMs);
  });

  it('retry only while the time after the pause and the reserve covers the expected record', () => {
    expect(mayRetryInProcess(Number.POSITIVE_INFINITY, 500, 10_000)).toBe(true);
    expect(mayRetryInProcess(RetryPolicy.reserveMs + 500 + 10_000, 500, 10_000)).toBe(true);
    expect(mayRetryInProcess(RetryPolicy.reserveMs + 500 + 9_999, 500, 10_000)).toBe(false);
    expect(mayRetryInProcess(RetryPolicy.reserveMs + 500 + RetryPolicy.minimumRecordMs - 1, 500, null)).toBe(false);
  });
});

describe('deadline', () => {
  it('starts the first record of an invocation whenever the minimum fits, whatever the estimate', () => {
    expect(mayStartRecord({ remainingMs: RetryPolicy.reserveMs + RetryPolicy.minimumRecordMs, startedBefore: 0, expectedMs: 50_000 })).toBe(true);
    expect(mayStartRecord({ remainingMs: RetryPolicy.reserveMs + RetryPolicy.minimumRecordMs - 1, startedBefore: 0, expectedMs: null })).toBe(false);
  });

  it('stops taking records when the remaining time would not cover the longest recent one', () => {
    const expectedMs = 8_000;
    expect(mayStartRecord({ remainingMs: RetryPolicy.reserveMs + expectedMs, startedBefore: 3, expectedMs })).toBe(true);
    expect(mayStartRecord({ remainingMs: RetryPolicy.reserveMs + expectedMs - 1, startedBefore: 3, expectedMs })).toBe(false);
  });

  it('ends statements the reserve before the deadline, and sets none without one', () => {
    expect(statementTimeoutMs(60_000)).toBe(60_000 - RetryPolicy.reserveMs);
    expect(statementTimeoutMs(100)).toBe(RetryPolicy.minimumRecordMs);
    expect(statementTimeoutMs(Number.POSITIVE_INFINITY)).toBeNull();
  });
});

describe('visibility of the failed records of an invocation', () => {
  const high = () => 0.9999999;

  it('backs off a transient failure by its receive count, and the records skipped behind it with it', () => {
    // GIVEN group A's first record failed on its third receive, its second was skipped; B applied
    const records = [record('a1', 'A', 3), record('b1', 'B'), record('a2', 'A', 3)];
    const failures = new Map([['a1', RecordFailure.transient]]);
    // WHEN THEN both of A come back together after 9 s; B is not touched
    expect(visibilityChanges(records, new Set(['a1', 'a2']), failures, high)).toEqual([
      { messageId: 'a1', seconds: 9 },
      { messageId: 'a2', seconds: 9 },
    ]);
  });

  it('makes a deferred record visible at once', () => {
    const records = [record('a1', 'A'), record('b1', 'B', 4)];
    expect(visibilityChanges(records, new Set(['b1']), new Map([['b1', RecordFailure.deferred]]), high)).toEqual([{ messageId: 'b1', seconds: 0 }]);
  });

  it('backs deferred records off too when the invocation met a transient failure (a slow database)', () => {
    const records = [record('a1', 'A', 2), record('b1', 'B', 4)];
    const failures = new Map([
      ['a1', RecordFailure.transient],
      ['b1', RecordFailure.deferred],
    ]);
    expect(visibilityChanges(records, new Set(['a1', 'b1']), failures, high)).toEqual([
      { messageId: 'a1', seconds: 3 },
      { messageId: 'b1', seconds: 27 },
    ]);
  });

  it('leaves a config failure, and the records behind it, to the queue visibility timeout', () => {
    const records = [record('a1', 'A'), record('a2', 'A')];
    expect(visibilityChanges(records, new Set(['a1', 'a2']), new Map([['a1', RecordFailure.other]]), high)).toEqual([]);
  });
});

describe('processing order', () => {
  it('takes the group nearest the dead-letter queue first and keeps each group in its order', () => {
    const records = [record('a1', 'A', 1), record('b1', 'B', 5), record('a2', 'A', 1), record('c1', 'C', 5), record('b2', 'B', 5)];
    expect(orderByReceiveCount(records).map((r) => r.messageId)).toEqual(['b1', 'b2', 'c1', 'a1', 'a2']);
  });
});
