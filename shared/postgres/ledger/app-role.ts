import type { Sql, TxSql } from '../db.ts';
import { parseTableName, quoteIdent, quoteQualified } from '../../core/identifiers.ts';

/** The ledger's schema: the application role owns it, so the functions can migrate it at cold start. */
export const LEDGER_SCHEMA = 'landfall';
/** The database role the functions log in as (the stack's `LANDFALL_DB_USER` in new-database mode). */
export const DEFAULT_APP_ROLE = 'landfall';

export interface AppRoleOptions {
  /** The role the functions log in as. */
  role: string;
  /** The configured tables (`schema.table` or `table`): the only ones the role may write. */
  tables: readonly string[];
  /**
   * Grant RDS's `rds_iam`, so the role logs in with IAM tokens (the functions straight to an
   * instance, or RDS Proxy with end-to-end IAM). Skipped, and reported, where the role does
   * not exist (PostgreSQL outside RDS).
   */
  iam: boolean;
}

export interface AppRoleReport {
  role: string;
  created: boolean;
  iam: 'granted' | 'not-on-rds' | 'not-asked';
  /** Tables granted (quoted names). */
  tables: string[];
  /** Configured tables that do not exist yet: run this again once they do. */
  missingTables: string[];
}

export class AppRoleError extends Error {
  override name = 'AppRoleError';
}

/**
 * Creates (or brings up to date) the least-privilege role the Landfall functions log in as,
 * and returns what it did. Run it as the database's admin (the RDS master user); it is
 * idempotent, so run it again after adding a table to the config. The role gets:
 *
 * - LOGIN, nothing else (no SUPERUSER, CREATEDB, CREATEROLE, no `rds_superuser`; a role that
 *   has any of these is refused, not changed);
 * - `rds_iam` when asked (IAM tokens instead of a password; no password is set);
 * - ownership of the ledger schema `landfall` and everything in it (the functions migrate it);
 * - on each configured table: SELECT, INSERT, UPDATE, DELETE, USAGE on its schema, and
 *   USAGE on the sequences behind its columns' defaults. Not ownership: a table with
 *   `"schema": "evolve"` needs `ALTER TABLE … OWNER TO landfall` to add columns.
 *
 * All in one transaction: a failure leaves nothing half-granted.
 */
export async function grantAppRole(sql: Sql, options: AppRoleOptions): Promise<AppRoleReport> {
  return sql.begin(async (tx) => {
    const role = quoteIdent(options.role);
    const created = await ensureLoginRole(tx, options.role);
    const iam = options.iam ? await grantRdsIam(tx, options.role) : 'not-asked';
    await tx.unsafe(`GRANT CONNECT ON DATABASE ${quoteIdent(await currentDatabase(tx))} TO ${role}`);
    await ownLedgerSchema(tx, options.role);
    const tables: string[] = [];
    const missingTables: string[] = [];
    for (const name of options.tables) {
      const qualified = parseTableName(name);
      const quoted = quoteQualified(qualified);
      const [found] = await tx<{ oid: number }[]>`SELECT to_regclass(${quoted})::oid AS oid`;
      if (!found?.oid) {
        missingTables.push(name);
        continue;
      }
      await tx.unsafe(`GRANT USAGE ON SCHEMA ${quoteIdent(qualified.schema)} TO ${role}`);
      await tx.unsafe(`GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE ${quoted} TO ${role}`);
      const sequences = await tx<{ sequence: string }[]>`
        SELECT pg_get_serial_sequence(${quoted}, attname) AS sequence
        FROM pg_attribute
        WHERE attrelid = ${found.oid} AND attnum > 0 AND NOT attisdropped AND pg_get_serial_sequence(${quoted}, attname) IS NOT NULL`;
      // pg_get_serial_sequence returns the name already quoted where needed.
      for (const { sequence } of sequences) await tx.unsafe(`GRANT USAGE, SELECT ON SEQUENCE ${sequence} TO ${role}`);
      tables.push(quoted);
    }
    return { role: options.role, created, iam, tables, missingTables };
  }) as Promise<AppRoleReport>;
}

async function currentDatabase(tx: TxSql): Promise<string> {
  const [row] = await tx<{ name: string }[]>`SELECT current_database() AS name`;
  return row!.name;
}

async function ensureLoginRole(tx: TxSql, name: string): Promise<boolean> {
  const [existing] = await tx<{ superuser: boolean; createrole: boolean; createdb: boolean; bypassrls: boolean; rdsSuperuser: boolean }[]>`
    SELECT rolsuper AS superuser, rolcreaterole AS createrole, rolcreatedb AS createdb, rolbypassrls AS bypassrls,
           EXISTS (SELECT FROM pg_roles r WHERE r.rolname = 'rds_superuser' AND pg_has_role(${name}, r.oid, 'MEMBER')) AS "rdsSuperuser"
    FROM pg_roles WHERE rolname = ${name}`;
  if (!existing) {
    await tx.unsafe(`CREATE ROLE ${quoteIdent(name)} LOGIN`);
    return true;
  }
  const powers = Object.entries(existing)
    .filter(([, has]) => has)
    .map(([power]) => power);
  if (powers.length > 0) {
    throw new AppRoleError(
      `role "${name}" already exists with ${powers.join(', ')}: the functions must not log in with those rights. ` +
        'Pick another --role, or strip them yourself (ALTER ROLE … NOSUPERUSER NOCREATEROLE NOCREATEDB NOBYPASSRLS; REVOKE rds_superuser FROM …).',
    );
  }
  await tx.unsafe(`ALTER ROLE ${quoteIdent(name)} LOGIN`);
  return false;
}

async function grantRdsIam(tx: TxSql, name: string): Promise<'granted' | 'not-on-rds'> {
  const [rdsIam] = await tx`SELECT FROM pg_roles WHERE rolname = 'rds_iam'`;
  if (!rdsIam) return 'not-on-rds';
  await tx.unsafe(`GRANT rds_iam TO ${quoteIdent(name)}`);
  return 'granted';
}

/**
 * The ledger schema, owned by the role with everything in it. Creating or re-owning for
 * another role needs the admin to be able to SET ROLE to it: PostgreSQL 16+ gives the creator
 * of a role ADMIN OPTION on it but not SET, so the admin grants itself SET first (RDS's master
 * user is not a superuser).
 */
async function ownLedgerSchema(tx: TxSql, name: string): Promise<void> {
  const role = quoteIdent(name);
  const [member] = await tx<{ canSet: boolean }[]>`SELECT pg_has_role(current_user, ${name}, 'SET') AS "canSet"`;
  if (!member?.canSet) await tx.unsafe(`GRANT ${role} TO CURRENT_USER WITH SET TRUE`);
  const schema = quoteIdent(LEDGER_SCHEMA);
  const [existing] = await tx<{ owner: string }[]>`SELECT nspowner::regrole::text AS owner FROM pg_namespace WHERE nspname = ${LEDGER_SCHEMA}`;
  if (!existing) {
    await tx.unsafe(`CREATE SCHEMA ${schema} AUTHORIZATION ${role}`);
    return;
  }
  await tx.unsafe(`ALTER SCHEMA ${schema} OWNER TO ${role}`);
  const objects = await tx<{ kind: string; name: string }[]>`
    SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END AS kind,
           c.oid::regclass::text AS name
    FROM pg_class c
    WHERE c.relnamespace = ${LEDGER_SCHEMA}::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
      AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i') AND c.relkind = 'S')`;
  // regclass text is already quoted where needed; sequences owned by a column move with their table.
  for (const object of objects) await tx.unsafe(`ALTER ${object.kind} ${object.name} OWNER TO ${role}`);
}
