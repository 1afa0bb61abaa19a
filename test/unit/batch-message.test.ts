import { expect, test } from 'vitest';
import { messageGroupOf } from '../../shared/core/batch-message.ts';

test('a plain table name is the message group prefix', () => {
  expect(messageGroupOf('sales.orders', 3)).toBe('sales.orders#3');
});

test('a table name SQS would refuse (spaces, non-ASCII) becomes a stable hash, different per table', () => {
  const group = messageGroupOf('"Bestellungen ä"', 0);

  expect(group).toMatch(/^t-[0-9a-f]{24}#0$/);
  expect(messageGroupOf('"Bestellungen ä"', 0)).toBe(group);
  expect(messageGroupOf('"Bestellungen ö"', 0)).not.toBe(group);
});
