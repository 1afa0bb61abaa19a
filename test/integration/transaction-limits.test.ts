import { expect, test } from 'vitest';
import { limitTransaction, type TransactionLimits } from '../../shared/postgres/transaction-limits.ts';
import { createTestDatabase } from '../helpers/database.ts';

const { sql } = await createTestDatabase();

/** The statement_timeout (ms) a transaction runs with under `limits`. */
async function statementTimeoutUnder(limits: TransactionLimits): Promise<number> {
  return sql.begin(async (tx) => {
    await limitTransaction(tx, limits);
    const [row] = await tx<{ ms: string }[]>`SELECT (extract(epoch FROM current_setting('statement_timeout')::interval) * 1000)::int8 AS ms`;
    return Number(row!.ms);
  });
}

test('GIVEN limits measured just now THEN the statement timeout is about the one measured', async () => {
  const ms = await statementTimeoutUnder({ statementTimeoutMs: 5_000, idleInTransactionMs: null, measuredAtMs: Date.now() });
  expect(ms).toBeLessThanOrEqual(5_000);
  expect(ms).toBeGreaterThan(4_000);
});

test('GIVEN limits measured 2 s before the server ran them (a wait at a saturated pooler) THEN the 2 s are taken off the statement timeout', async () => {
  const ms = await statementTimeoutUnder({ statementTimeoutMs: 5_000, idleInTransactionMs: null, measuredAtMs: Date.now() - 2_000 });
  expect(ms).toBeLessThanOrEqual(3_000);
  expect(ms).toBeGreaterThan(2_000);
});

test('GIVEN limits measured longer ago than their timeout THEN every statement of the transaction is cancelled at once', async () => {
  expect(await statementTimeoutUnder({ statementTimeoutMs: 5_000, idleInTransactionMs: null, measuredAtMs: Date.now() - 60_000 })).toBe(1);
  await expect(
    sql.begin(async (tx) => {
      await limitTransaction(tx, { statementTimeoutMs: 5_000, idleInTransactionMs: null, measuredAtMs: Date.now() - 60_000 });
      await tx`SELECT pg_sleep(0.2)`;
    }),
  ).rejects.toMatchObject({ code: '57014' });
});

test('GIVEN limits without the time they were measured, or measured "later" than the server\'s clock THEN the timeout is as given', async () => {
  expect(await statementTimeoutUnder({ statementTimeoutMs: 5_000, idleInTransactionMs: null })).toBe(5_000);
  expect(await statementTimeoutUnder({ statementTimeoutMs: 5_000, idleInTransactionMs: null, measuredAtMs: Date.now() + 60_000 })).toBe(5_000);
});
