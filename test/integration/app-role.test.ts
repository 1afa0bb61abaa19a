import { randomBytes } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createConsumerHandler } from '../../shared/lambda/consumer-handler.ts';
import { createReplayHandler } from '../../shared/lambda/replay-handler.ts';
import { parseConfig } from '../../shared/core/config.ts';
import { AppRoleError, grantAppRole } from '../../shared/postgres/ledger/app-role.ts';
import { migrateLedger } from '../../shared/postgres/ledger/migrate.ts';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../cli/main.ts';
import { batchPortsFromEnv } from '../../shared/lambda/consumer-runtime.ts';
import { EnvVar } from '../../shared/environment/env.ts';
import { makeBatch } from '../helpers/batches.ts';
import { captureIo } from '../helpers/cli.ts';
import { type Handler, startBatchEmulator } from '../helpers/batch-emulator.ts';
import { createTestDatabase } from '../helpers/database.ts';

// Finding 3 of issue 11: the functions log in as a least-privilege role, not as the admin.
// GIVEN a database with two tables, one configured, and the role granted by the admin
const { sql, url } = await createTestDatabase();
const role = `landfall_app_${randomBytes(4).toString('hex')}`;
const password = randomBytes(12).toString('hex');
const config = parseConfig({ tables: [{ table: 'orders', conflictKey: ['id'], partitions: 1 }] });
const emulator = await startBatchEmulator({ maxReceiveCount: 2 });
/** A second database with no ledger at all, for the cold start. */
const fresh = await createTestDatabase();
let app: postgres.Sql;

beforeAll(async () => {
  await sql`CREATE TABLE orders (id int PRIMARY KEY, line serial, qty int CHECK (qty > 0))`;
  await sql`CREATE TABLE payroll (name text, salary int)`;
  await grantAppRole(sql, { role, tables: ['orders', 'not_yet_created'], iam: true });
  // Only for this test: the embedded server asks for a password; on RDS the role uses IAM tokens.
  await sql.unsafe(`ALTER ROLE "${role}" PASSWORD '${password}'`);
  const appUrl = new URL(url);
  appUrl.username = role;
  appUrl.password = password;
  app = postgres(appUrl.toString(), { max: 2, prepare: false, onnotice: () => {} });
});
afterAll(async () => {
  await app?.end({ timeout: 5 });
  await sql.unsafe(`DROP OWNED BY "${role}" CASCADE`);
  await sql.unsafe(`DROP ROLE "${role}"`);
});

const quiet = () => ({ logger: new Logger({ logLevel: 'SILENT' }), metrics: new Metrics({ namespace: 'Test', serviceName: 'test' }) });

describe('the application role', () => {
  test('is no superuser and may create neither roles nor databases', async () => {
    const [attributes] = await sql`SELECT rolsuper, rolcreaterole, rolcreatedb, rolcanlogin FROM pg_roles WHERE rolname = ${role}`;
    expect(attributes).toEqual({ rolsuper: false, rolcreaterole: false, rolcreatedb: false, rolcanlogin: true });
  });

  test('applies batches and quarantines bad rows through consumer and replay, migrating its own ledger', async () => {
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    const ports = emulator.ports(config, app);
    const consumer = createConsumerHandler({ ports: () => ports, ...quiet() }) as Handler;
    const replay = createReplayHandler({ ports: () => ports, ...quiet() }) as Handler;
    await emulator.stage(makeBatch({ table: 'orders', rows: [{ id: '1', qty: '2' }, { id: '2', qty: '0' }, { id: '3', qty: '5' }] }));

    // What a cold start does (batchPortsFromEnv), as the role itself.
    await migrateLedger(app);

    await emulator.deliver(emulator.queues.batches, consumer);
    await emulator.deliver(emulator.queues.dlq, replay);

    expect({
      rows: await sql`SELECT id, qty FROM orders ORDER BY id`,
      quarantined: await sql`SELECT row_number::int FROM landfall.quarantine`,
    }).toEqual({ rows: [{ id: 1, qty: 2 }, { id: 3, qty: 5 }], quarantined: [{ row_number: 2 }] });
  });

  test('owns the ledger schema (the functions migrate it)', async () => {
    const [owner] = await sql`SELECT nspowner::regrole::text AS owner FROM pg_namespace WHERE nspname = 'landfall'`;
    expect(owner?.owner).toBe(role);
  });

  test('cannot read a table that is not configured', async () => {
    await expect(app`SELECT * FROM payroll`).rejects.toMatchObject({ code: '42501' });
  });

  test('cannot create a schema of its own', async () => {
    await expect(app.unsafe('CREATE SCHEMA elsewhere')).rejects.toMatchObject({ code: '42501' });
  });

  test('cannot change the table it writes', async () => {
    await expect(app.unsafe('ALTER TABLE orders ADD COLUMN extra text')).rejects.toMatchObject({ code: '42501' });
  });
});

describe('granting', () => {
  test('reports the configured tables that do not exist yet, and that rds_iam is RDS-only', async () => {
    const report = await grantAppRole(sql, { role, tables: ['orders', 'not_yet_created'], iam: true });
    expect(report).toEqual({ role, created: false, iam: 'not-on-rds', tables: ['"public"."orders"'], missingTables: ['not_yet_created'] });
  });

  test('refuses an existing role with admin rights instead of using it', async () => {
    const powerful = `landfall_admin_${randomBytes(4).toString('hex')}`;
    await sql.unsafe(`CREATE ROLE "${powerful}" LOGIN CREATEROLE`);
    try {
      await expect(grantAppRole(sql, { role: powerful, tables: ['orders'], iam: false })).rejects.toThrow(AppRoleError);
    } finally {
      await sql.unsafe(`DROP ROLE "${powerful}"`);
    }
  });
});

describe('landfall grant-role', () => {
  test('grants the configured tables and says which to create first (exit 1)', async () => {
    const configFile = join(tmpdir(), `landfall-grant-${randomBytes(4).toString('hex')}.json`);
    writeFileSync(configFile, JSON.stringify({ tables: [{ table: 'orders', conflictKey: ['id'] }, { table: 'later', conflictKey: ['id'] }] }));
    const io = captureIo();
    const code = await main(['node', 'landfall', 'grant-role', '--config', configFile, '--database-url', url, '--role', role, '--json'], io);
    expect([code, JSON.parse(io.out()).missingTables]).toEqual([1, ['later']]);
  });
});

describe('a cold start on a fresh database', () => {
  test('creates the ledger before the first batch registers its file', async () => {
    const env = { [EnvVar.databaseUrl]: fresh.url, [EnvVar.stagingBucket]: 'staging', [EnvVar.dlqUrl]: 'http://dlq', [EnvVar.sourceQueueUrl]: 'http://batches', [EnvVar.configJson]: JSON.stringify({ tables: [{ table: 'orders', conflictKey: ['id'] }] }) };
    const ports = await batchPortsFromEnv(env, 'consumer', { s3: emulator.s3, sqs: emulator.sqs });
    try {
      expect(await fresh.sql`SELECT to_regclass('landfall.files')::text AS files`).toEqual([{ files: 'landfall.files' }]);
    } finally {
      await ports.sql.end({ timeout: 1 });
    }
  });
});

describe('run by an admin that is not a superuser (as the RDS master user is not)', () => {
  test('creates the role and gives it the ledger schema', async () => {
    // GIVEN an admin with CREATEROLE that owns the database and its tables, like RDS's master user
    const admin = `landfall_rdsmaster_${randomBytes(4).toString('hex')}`;
    const appRole = `landfall_app2_${randomBytes(4).toString('hex')}`;
    await sql.unsafe(`CREATE ROLE "${admin}" LOGIN CREATEROLE CREATEDB PASSWORD '${password}'`);
    await fresh.sql.unsafe('DROP SCHEMA IF EXISTS landfall CASCADE'); // a fresh RDS database has no ledger
    await fresh.sql.unsafe(`ALTER DATABASE "${fresh.name}" OWNER TO "${admin}"`);
    await fresh.sql.unsafe(`ALTER SCHEMA public OWNER TO "${admin}"`);
    const adminUrl = new URL(fresh.url);
    adminUrl.username = admin;
    adminUrl.password = password;
    const asAdmin = postgres(adminUrl.toString(), { max: 1, onnotice: () => {} });
    try {
      await asAdmin`CREATE TABLE IF NOT EXISTS orders (id int PRIMARY KEY)`;
      // WHEN it grants
      const report = await grantAppRole(asAdmin, { role: appRole, tables: ['orders'], iam: true });
      // THEN the role exists, owns the ledger schema and may write the table
      const [owner] = await fresh.sql`SELECT nspowner::regrole::text AS owner FROM pg_namespace WHERE nspname = 'landfall'`;
      const [canWrite] = await fresh.sql`SELECT has_table_privilege(${appRole}, 'public.orders', 'INSERT') AS ok`;
      expect([report.created, owner?.owner, canWrite?.ok]).toEqual([true, appRole, true]);
    } finally {
      await asAdmin.end({ timeout: 1 });
      await fresh.sql.unsafe(`DROP SCHEMA IF EXISTS landfall CASCADE`);
      const [exists] = await sql`SELECT FROM pg_roles WHERE rolname = ${appRole}`;
      if (exists) await fresh.sql.unsafe(`DROP OWNED BY "${appRole}" CASCADE`);
      await fresh.sql.unsafe(`DROP ROLE IF EXISTS "${appRole}"`);
      await fresh.sql.unsafe(`DROP TABLE IF EXISTS orders`);
      await sql.unsafe(`REASSIGN OWNED BY "${admin}" TO CURRENT_USER`);
      await fresh.sql.unsafe(`REASSIGN OWNED BY "${admin}" TO CURRENT_USER`);
      await fresh.sql.unsafe(`DROP OWNED BY "${admin}"`);
      await sql.unsafe(`DROP OWNED BY "${admin}"`);
      await sql.unsafe(`DROP ROLE "${admin}"`);
    }
  });
});
