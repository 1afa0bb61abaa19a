import { expect, test } from 'vitest';
import { TableNotFoundError } from '../../shared/postgres/catalog.ts';
import { TableConfigError } from '../../shared/core/conflict-key.ts';
import { tableRefusalOf } from '../../shared/consumer/consume-batch.ts';

const pgError = (code: string, message = `error ${code}`) => Object.assign(new Error(message), { code });

test.each([
  ['the key index does not match', new TableConfigError('orders', 'no unique index or constraint matches conflictKey (id)', 'CREATE UNIQUE INDEX …'), { code: 'table-config', reason: 'no unique index or constraint matches conflictKey (id)', fix: 'CREATE UNIQUE INDEX …' }],
  ['the table is missing', new TableNotFoundError({ schema: 'public', name: 'orders' }), { code: 'table-missing', reason: expect.stringContaining('public.orders does not exist'), fix: expect.stringContaining('create the table') }],
  ['a privilege is missing (42501)', pgError('42501', 'permission denied for table orders'), { code: 'sqlstate 42501', reason: 'permission denied for table orders', fix: expect.stringContaining('landfall grant-role') }],
  ['a relation vanished (42P01)', pgError('42P01'), { code: 'sqlstate 42P01', reason: 'error 42P01', fix: expect.stringContaining('landfall doctor') }],
])('%s is the table\'s refusal', (_what, error, refusal) => {
  expect(tableRefusalOf(error)).toEqual(refusal);
});

test.each([
  ['a unique violation (data, 23505)', pgError('23505')],
  ['a cardinality violation (21000)', pgError('21000')],
  ['a serialization failure (transient, 40001)', pgError('40001')],
  ['a reset connection', pgError('ECONNRESET')],
  // Recording a refusal needs a login: after a rotation the next one (the secret read again)
  // would succeed and record a table as blocked that nothing is wrong with.
  ['a refused password (28P01)', pgError('28P01', 'password authentication failed for user "landfall"')],
  ['a refused login (28000)', pgError('28000', 'role "landfall" does not exist')],
  ['an S3 error', new Error('NoSuchKey')],
])('%s is not', (_what, error) => {
  expect(tableRefusalOf(error)).toBeNull();
});
