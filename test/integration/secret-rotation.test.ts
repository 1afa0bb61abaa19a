import { randomBytes } from 'node:crypto';
import { type AddressInfo, connect as netConnect, createServer, type Socket } from 'node:net';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../shared/core/config.ts';
import { type BatchSettings, connectFromSettings } from '../../shared/lambda/consumer-runtime.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { createConsumerHandler } from '../../shared/lambda/consumer-handler.ts';
import { grantAppRole } from '../../shared/postgres/ledger/app-role.ts';
import { migrateLedger } from '../../shared/postgres/ledger/migrate.ts';
import { type Handler, startBatchEmulator } from '../helpers/batch-emulator.ts';
import { makeBatch } from '../helpers/batches.ts';

// Issue 24, item 7: in the existing-database password mode the functions read their credentials
// from a Secrets Manager secret. A rotation changes the password under a running container; the
// next login must read the secret again (after PostgreSQL's 28P01), not fail until the container
// is recycled. The secret is a stand-in (only AWS is mocked); the database and its logins are real.

const db = await createTestDatabase();
const role = `landfall_rotated_${randomBytes(4).toString('hex')}`;
const target = new URL(db.url);

/** A Secrets Manager stand-in holding RDS's JSON secret, counting its reads. */
function secretStore(password: string) {
  const store = {
    password,
    reads: 0,
    client: {
      send: async () => {
        store.reads++;
        return { SecretString: JSON.stringify({ username: role, password: store.password, host: '127.0.0.1', port: relayPort, dbname: db.name }) };
      },
    } as unknown as SecretsManagerClient,
  };
  return store;
}

const settings: BatchSettings = {
  config: parseConfig({ tables: [{ table: 't', conflictKey: ['id'], partitions: 1 }] }),
  stagingBucket: 'staging',
  database: { kind: 'secret', secretArn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-AbCdEf', overrides: {}, who: 'consumer' },
};

/** Statements until one runs (at most 5): each failure's code, then the user it ran as. */
async function statementsUntilConnected(sql: postgres.Sql): Promise<string[]> {
  const outcomes: string[] = [];
  for (let i = 0; i < 5; i++) {
    const outcome = await sql<{ who: string }[]>`SELECT current_user AS who`.then(
      ([row]) => ({ ok: row!.who }),
      (error: unknown) => ({ failed: String((error as { code?: string }).code) }),
    );
    if ('ok' in outcome) return [...outcomes, outcome.ok];
    outcomes.push(outcome.failed);
  }
  return outcomes;
}

const rotate = (password: string) => db.sql.unsafe(`ALTER ROLE "${role}" PASSWORD '${password}'`);
/**
 * The functions reach the database through a TCP relay the test controls, as through RDS Proxy:
 * a rotation does nothing to a connection that stays open, until it is closed (the idle timeout,
 * a failover). The relay closes the client's connections and waits until the client has closed
 * its end. (Closing them from the server instead, pg_terminate_backend, races the client's next
 * statement: one written onto the dying socket can hang in postgres.js after ECONNRESET.)
 */
const relaySockets = new Set<Socket>();
const relay = createServer((client) => {
  const upstream = netConnect({ host: target.hostname, port: Number(target.port) });
  relaySockets.add(client);
  client.on('close', () => {
    relaySockets.delete(client);
    upstream.destroy();
  });
  upstream.on('close', () => client.destroy());
  client.on('error', () => {});
  upstream.on('error', () => {});
  client.pipe(upstream);
  upstream.pipe(client);
});
await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', () => resolve()));
const relayPort = (relay.address() as AddressInfo).port;

async function dropConnections() {
  await Promise.all([...relaySockets].map((socket) => new Promise<void>((resolve) => {
    socket.once('close', () => resolve());
    socket.end();
  })));
}

const emulator = await startBatchEmulator({ maxReceiveCount: 2 });

beforeAll(async () => {
  await db.sql.unsafe(`CREATE ROLE "${role}" LOGIN PASSWORD 'first'`);
  await db.sql`CREATE TABLE t (id int PRIMARY KEY, v text)`;
  await grantAppRole(db.sql, { role, tables: ['t'], iam: false });
});
afterAll(async () => {
  for (const socket of relaySockets) socket.destroy();
  await new Promise<void>((resolve) => relay.close(() => resolve()));
  await db.sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = ${role}`;
  await db.sql.unsafe(`DROP ROLE IF EXISTS "${role}"`).catch(() => {});
});

describe('password mode after a rotation', () => {
  it('the next login reads the secret again and reconnects', async () => {
    await rotate('first');
    const secret = secretStore('first');
    const sql = await connectFromSettings(settings, secret.client);
    try {
      expect(await sql`SELECT current_user AS who`).toEqual([{ who: role }]);
      expect(secret.reads).toBe(1);

      // GIVEN a rotation (the database and the secret get the new password) and the connection gone
      await rotate('second');
      secret.password = 'second';
      await dropConnections();

      // WHEN the container goes on: the login after the dropped connection still has the old
      // password (28P01), the one after that reads the secret again
      const outcomes = await statementsUntilConnected(sql);

      // THEN it is connected with the new password, having read the secret once more
      expect(outcomes.filter((o) => o === '28P01')).toHaveLength(1);
      expect(outcomes.at(-1)).toBe(role);
      expect(secret.reads).toBe(2);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  it('a login that succeeds keeps the password it has (no read per connection)', async () => {
    await rotate('steady');
    const secret = secretStore('steady');
    const sql = await connectFromSettings(settings, secret.client);
    try {
      await dropConnections();
      const outcomes = await statementsUntilConnected(sql);
      expect(outcomes.at(-1)).toBe(role);
      expect(outcomes).not.toContain('28P01');
      expect(secret.reads).toBe(1);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  it('a rotation between the read and the first login costs one more read at cold start, no failed record', async () => {
    await rotate('new');
    const secret = secretStore('old');
    // The secret still says "old" when read, and "new" when read again.
    const client = secret.client as unknown as { send: () => Promise<unknown> };
    const send = client.send;
    client.send = async () => {
      const answer = await send();
      secret.password = 'new';
      return answer;
    };
    const sql = await connectFromSettings(settings, secret.client);
    try {
      expect(await sql`SELECT current_user AS who`).toEqual([{ who: role }]);
      expect(secret.reads).toBe(2);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  it('a password that is wrong for good fails with 28P01, without reading the secret in a loop', async () => {
    await rotate('right');
    const secret = secretStore('wrong');
    await expect(connectFromSettings(settings, secret.client)).rejects.toMatchObject({ code: '28P01' });
    expect(secret.reads).toBe(2);
  });
});

describe('the consumer after a rotation (follow-up to issue 24: 28P01 and 28000 are transient)', () => {
  it('reads the secret again and applies the batch in the same invocation: no redelivery, no blocked table, no quarantine', async () => {
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    await rotate('before');
    const secret = secretStore('before');
    const sql = await connectFromSettings(settings, secret.client);
    try {
      await migrateLedger(sql);
      const ports = emulator.ports(settings.config, sql);
      const consumer = createConsumerHandler({
        ports: () => ports,
        logger: new Logger({ logLevel: 'SILENT' }),
        metrics: new Metrics({ namespace: 'Test', serviceName: 'test' }),
      }) as Handler;
      await emulator.stage(makeBatch({ table: 't', rows: [{ id: '1', v: 'a' }, { id: '2', v: 'b' }] }));

      // GIVEN a rotation under the running container, its connection gone (as a proxy's idle timeout)
      await rotate('after');
      secret.password = 'after';
      await dropConnections();

      // WHEN the batch arrives: its first login still has the old password (28P01)
      const delivery = await emulator.deliver(emulator.queues.batches, consumer);

      // THEN the one invocation applied it, having read the secret once more
      expect({
        failures: delivery.response?.batchItemFailures ?? [],
        rows: await db.sql`SELECT id, v FROM t ORDER BY id`,
        reads: secret.reads,
        blocked: await db.sql`SELECT table_name FROM landfall.blocked_tables`,
        quarantined: await db.sql`SELECT count(*)::int AS n FROM landfall.quarantine`,
        queued: await emulator.depth(emulator.queues.batches),
        dlq: await emulator.depth(emulator.queues.dlq),
      }).toEqual({
        failures: [],
        rows: [{ id: 1, v: 'a' }, { id: 2, v: 'b' }],
        reads: 2,
        blocked: [],
        quarantined: [{ n: 0 }],
        queued: 0,
        dlq: 0,
      });
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
});
