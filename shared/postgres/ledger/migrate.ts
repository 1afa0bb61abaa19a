import { Umzug, type UmzugStorage } from 'umzug';
import type { Sql, TxSql } from '../db.ts';
import { migrations } from './migrations.ts';

/** umzug's record of what ran, kept in the ledger schema itself. */
/** The migration context. An object, not the bare `tx`: umzug would call a function context. */
interface Context {
  tx: TxSql;
}

function ledgerStorage(): UmzugStorage<Context> {
  return {
    async executed({ context: { tx } }) {
      const rows = await tx<{ name: string }[]>`SELECT name FROM landfall.migrations ORDER BY name`;
      return rows.map((r) => r.name);
    },
    async logMigration({ name, context: { tx } }) {
      await tx`INSERT INTO landfall.migrations (name) VALUES (${name})`;
    },
    async unlogMigration({ name, context: { tx } }) {
      await tx`DELETE FROM landfall.migrations WHERE name = ${name}`;
    },
  };
}

/**
 * Brings the `landfall` schema up to date. All pending migrations run in ONE transaction under
 * a transaction-scoped advisory lock, so concurrent cold starts wait for each other and a
 * failure leaves nothing half-done (and nothing outlives the transaction behind a proxy).
 * Returns the names of the migrations it applied.
 */
export async function migrateLedger(sql: Sql): Promise<string[]> {
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtext('landfall.migrations'))`;
    // CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the schema exists; the
    // least-privilege role (shared/postgres/ledger/app-role.ts) owns the schema but has no such right.
    const [schema] = await tx`SELECT FROM pg_namespace WHERE nspname = 'landfall'`;
    if (!schema) await tx`CREATE SCHEMA landfall`;
    await tx`CREATE TABLE IF NOT EXISTS landfall.migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`;
    const umzug = new Umzug<Context>({
      migrations: migrations.map((m) => ({ name: m.name, up: ({ context }) => m.up(context.tx) })),
      context: { tx },
      storage: ledgerStorage(),
      logger: undefined,
    });
    const applied = await umzug.up();
    return applied.map((m) => m.name);
  }) as Promise<string[]>;
}
