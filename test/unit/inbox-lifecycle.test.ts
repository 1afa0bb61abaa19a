import { describe, expect, test } from 'vitest';
import { ConfigError, parseConfig } from '../../shared/core/config.ts';

// Issue 24, item 6: a table's `inbox` setting (shared/core/inbox-lifecycle.ts), checked where the
// rest of the config is: every problem names the table and the field.

const table = (inbox: unknown) => ({ tables: [{ table: 'orders', conflictKey: ['id'], inbox }] });
const problemsOf = (input: unknown): string[] => {
  try {
    parseConfig(input);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

describe('a table\'s inbox lifecycle', () => {
  test('is absent by default: the files are kept', () => {
    expect(parseConfig({ tables: [{ table: 'orders', conflictKey: ['id'] }] }).tables[0]!.inbox).toBeUndefined();
  });

  test('an expiry, a transition, or both', () => {
    expect(parseConfig(table({ expireAfterDays: 90 })).tables[0]!.inbox).toEqual({ expireAfterDays: 90 });
    expect(parseConfig(table({ transitionAfterDays: 30, storageClass: 'GLACIER_IR', expireAfterDays: 365 })).tables[0]!.inbox).toEqual({
      transitionAfterDays: 30,
      storageClass: 'GLACIER_IR',
      expireAfterDays: 365,
    });
  });

  test.each<[string, unknown, string]>([
    ['a storage class without its day', { storageClass: 'DEEP_ARCHIVE' }, 'table "orders": inbox: transitionAfterDays and storageClass go together (when, and to which storage class)'],
    ['a transition to infrequent access before S3 allows it', { transitionAfterDays: 7, storageClass: 'STANDARD_IA' }, 'table "orders": inbox.transitionAfterDays: 7 is too soon for STANDARD_IA: S3 moves files there no sooner than 30 days'],
    ['an expiry before the transition', { transitionAfterDays: 60, storageClass: 'GLACIER', expireAfterDays: 30 }, 'table "orders": inbox.expireAfterDays: 30 must come after transitionAfterDays (60)'],
    ['an empty object', {}, 'table "orders": inbox: give expireAfterDays, or transitionAfterDays with storageClass (leave "inbox" out to keep the files as they are)'],
    ['a fraction of a day', { expireAfterDays: 1.5 }, 'table "orders": inbox.expireAfterDays: must be a whole number of days'],
    ['a mistyped field', { expireAfterDay: 30 }, 'table "orders": inbox: unknown field "expireAfterDay" (did you mean "expireAfterDays"?)'],
  ])('refuses %s', (_name, inbox, problem) => {
    expect(problemsOf(table(inbox))).toContain(problem);
  });

  test('an unknown storage class names the ones S3 has', () => {
    expect(problemsOf(table({ transitionAfterDays: 30, storageClass: 'COLD' }))[0]).toMatch(/^table "orders": inbox.storageClass: .*"GLACIER_IR"/);
  });
});
