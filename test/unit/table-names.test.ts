import { describe, expect, test } from 'vitest';
import { matchTableName, TableNameError } from '../../shared/core/table-names.ts';

const known = ['public.customers', 'sales.orders', 'inventory', 'Mixed."Case"'];

describe('matchTableName: a --table names a known table as PostgreSQL would read it', () => {
  test.each([
    ['public.customers', 'public.customers'],
    ['customers', 'public.customers'],
    ['CUSTOMERS', 'public.customers'],
    ['orders', 'sales.orders'],
    ['sales.orders', 'sales.orders'],
    ['public.inventory', 'inventory'],
    ['inventory', 'inventory'],
    ['mixed."Case"', 'Mixed."Case"'],
  ])('%s → %s', (given, table) => {
    expect(matchTableName(given, known)).toBe(table);
  });

  test('a typo is refused with a guess and the list of tables', () => {
    expect(() => matchTableName('custmers', known)).toThrow('table "custmers" is not in the config (did you mean "public.customers"?); tables in the config: public.customers, sales.orders, inventory, Mixed."Case"');
  });

  test('a quoted name keeps its case: "Customers" is not customers', () => {
    expect(() => matchTableName('"Customers"', known)).toThrow(TableNameError);
  });

  test('another schema is another table', () => {
    expect(() => matchTableName('public.orders', known)).toThrow('table "public.orders" is not in the config');
  });

  test('a bare name in two schemas is ambiguous', () => {
    expect(() => matchTableName('orders', ['sales.orders', 'archive.orders'])).toThrow('table "orders" is ambiguous: sales.orders, archive.orders are in the config; give the schema');
  });

  test('says where it looked', () => {
    expect(() => matchTableName('x', [], 'in the quarantine')).toThrow('table "x" is not in the quarantine; no table is in the quarantine');
  });
});
