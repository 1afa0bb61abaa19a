import { createServer, connect as connectTcp, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import postgres from 'postgres';
import { afterAll, describe, expect, test } from 'vitest';
import { connect } from '../../shared/postgres/db.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { pgbouncerOrSkip } from '../helpers/pgbouncer.ts';

// The driver behaviours Landfall's exactly-once contract rests on (patches/postgres+3.4.9*.patch).
const db = await createTestDatabase();

/** The ErrorResponse message a backend sends when pg_terminate_backend ends it. */
function terminatedBackendError(): Buffer {
  const fields = Buffer.from('SFATAL\0VFATAL\0C57P01\0Mterminating connection due to administrator command\0\0');
  const head = Buffer.alloc(5);
  head.write('E', 0);
  head.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([head, fields]);
}


/**
 * A TCP proxy to the test database, closed after the file: each chunk the client sends goes to
 * `intercept` first, which returns true when it handled the chunk (cut the connection) instead
 * of forwarding it. Returns the database URL through the proxy.
 */
async function interceptingProxy(intercept: (chunk: Buffer, client: Socket, upstream: Socket) => boolean): Promise<URL> {
  const server = new URL(db.url);
  const proxy = createServer((client: Socket) => {
    const upstream = connectTcp(Number(server.port), '127.0.0.1');
    client.on('data', (chunk: Buffer) => {
      if (!intercept(chunk, client, upstream)) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  afterAll(() => new Promise<void>((resolve) => proxy.close(() => resolve())));
  const viaProxy = new URL(db.url);
  viaProxy.port = String((proxy.address() as { port: number }).port);
  return viaProxy;
}

describe('postgres.js as patched for Landfall', () => {
  test('after a backend is terminated mid-query, the next query on the same client succeeds (no stale 57P01)', async () => {
    // GIVEN one connection, busy in a long query
    const sql = connect({ url: db.url, max: 1, applicationName: 'driver-terminate' });
    afterAll(() => sql.end({ timeout: 5 }));
    const [backend] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
    const pid = backend!.pid;
    const sleeping = sql`select pg_sleep(5)`.then(
      () => 'finished',
      (error: { code?: string }) => error.code,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));

    // WHEN the server terminates it
    await db.sql`select pg_terminate_backend(${pid})`;

    // THEN the query fails, and the next one runs on a fresh connection
    expect(await sleeping).toMatch(/CONNECTION_CLOSED|57P01/);
    expect(await sql`select 1 as one`).toEqual([{ one: 1 }]);
  });

  test('a connection terminated while postgres.js fetches array types reconnects; its 57P01 is not replayed onto the first query (porsager/postgres#1223)', async () => {
    // GIVEN a TCP proxy that cuts the first connection when the driver asks for the array types
    // (the moment a failover or pg_terminate_backend can hit a connection that is starting up)
    let cut = false;
    const viaProxy = await interceptingProxy((chunk, client, upstream) => {
      if (cut || !chunk.includes('typarray')) return false;
      // Answer as a terminated backend does: FATAL 57P01, then the socket closes.
      cut = true;
      client.end(terminatedBackendError(), () => client.destroy());
      upstream.destroy();
      return true;
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    afterAll(() => void process.off('unhandledRejection', onUnhandled));
    const sql = connect({ url: viaProxy.toString(), max: 1, applicationName: 'driver-fetch-types' });
    afterAll(() => sql.end({ timeout: 5 }));

    // WHEN the first query needs a connection (and the first connection dies in its start-up)
    const first = await sql`select 1 as one`.then(
      (rows) => rows,
      (error: { code?: string }) => error.code,
    );
    const second = await sql`select 2 as two`;
    await new Promise((resolve) => setTimeout(resolve, 100));

    // THEN the first query runs on the new connection (or fails as closed, never with the dead
    // session's 57P01), nothing escaped as an unhandled rejection, and the client works
    expect(cut).toBe(true);
    expect(unhandled).toEqual([]);
    expect(first === 'CONNECTION_CLOSED' || Array.isArray(first)).toBe(true);
    expect([...second]).toEqual([{ two: 2 }]);
  });

  test('sql.begin rejects when the server answers COMMIT with ROLLBACK (the lost-batch sequence)', async () => {
    // GIVEN a client with named prepared statements whose cached COMMIT no longer exists on the
    // server (what a transaction pooler does when the next transaction lands on another server
    // connection; here DEALLOCATE ALL does it deterministically)
    const sql = postgres(db.url, { max: 1, prepare: true, onnotice: () => {} });
    afterAll(() => sql.end({ timeout: 5 }));
    await sql`create table if not exists driver_commit (id int primary key)`;
    await sql.begin(async (tx) => tx`select 1`); // caches the prepared COMMIT

    // WHEN a transaction writes and then commits: COMMIT fails with 26000, aborting the
    // transaction; postgres.js retries it, and the server answers the retry with ROLLBACK
    const outcome = sql
      .begin(async (tx) => {
        await tx`insert into driver_commit values (1)`;
        await tx.unsafe('deallocate all');
        return 'callback returned';
      })
      .then(
        (value) => ({ resolved: value }),
        (error: { code?: string }) => ({ rejected: error.code }),
      );

    // THEN sql.begin reports that nothing committed, and indeed nothing did
    expect(await outcome).toEqual({ rejected: '40000' });
    expect(await sql`select * from driver_commit`).toHaveLength(0);
  });

  test('a query queued between a socket error and its close (a savepoint\'s ROLLBACK TO after a failed COPY) is settled, and the next transaction on the reconnected session runs', async () => {
    // GIVEN a TCP proxy that resets the connection when COPY data passes (a server restart, a
    // failover, a killed pooler connection hitting a batch mid-COPY)
    let cuts = 0;
    const viaProxy = await interceptingProxy((chunk, client, upstream) => {
      if (cuts > 0 || chunk[0] !== 0x64 /* CopyData */) return false;
      cuts++;
      client.resetAndDestroy();
      upstream.destroy();
      return true;
    });
    const sql = connect({ url: viaProxy.toString(), max: 1, applicationName: 'driver-copy-reset' });
    afterAll(() => sql.end({ timeout: 5 }));
    await db.sql`create table driver_copy_reset (id int)`;

    // WHEN a transaction's COPY inside a savepoint dies with the connection (the savepoint's
    // ROLLBACK TO is issued as the COPY fails, the way insertIfFresh's savepoint does)
    const first = await sql
      .begin(async (tx) => {
        await tx`select ${1}::int as one`;
        await tx.savepoint(async (sp) => pipeline(Readable.from(['1\n', '2\n']), await sp.unsafe('copy driver_copy_reset (id) from stdin').writable()));
      })
      .then(
        () => 'committed',
        (error: { code?: string }) => error.code,
      );

    // THEN the next transaction, whose first statement has parameters (the driver describes it
    // first, then binds), is answered on the reconnected session instead of waiting forever
    const next = await sql.begin(async (tx) => tx`select ${2}::int as two`);
    expect(cuts).toBe(1);
    expect(first).toMatch(/ECONNRESET|CONNECTION_CLOSED/);
    expect([...next]).toEqual([{ two: 2 }]);
  }, 30_000);

  test('a transaction whose connection closed refuses its later queries: none runs outside it on the reconnected session (porsager/postgres#1155)', async () => {
    // GIVEN one connection, reserved by a transaction that has written a row, and a query of the
    // pool waiting for that connection
    const sql = connect({ url: db.url, max: 1, applicationName: 'driver-tx-closed' });
    afterAll(() => sql.end({ timeout: 5 }));
    await db.sql`create table driver_tx_closed (id int)`;
    let waiting: Promise<unknown> | undefined;
    let later: string | undefined;
    const outcome = sql
      .begin(async (tx) => {
        const [backend] = await tx<{ pid: number }[]>`select pg_backend_pid() as pid`;
        await tx`insert into driver_tx_closed values (1)`;
        waiting = sql`select 2 as two`;
        // WHEN the server ends the session, and the pooled connection reconnects for the waiting query
        await db.sql`select pg_terminate_backend(${backend!.pid})`;
        await waiting;
        // THEN the transaction's next statement is refused instead of running there, autocommitted
        await tx`insert into driver_tx_closed values (2)`.catch((error: { code?: string }) => {
          later = error.code;
          throw error;
        });
      })
      .then(
        () => 'committed',
        (error: { code?: string }) => error.code,
      );

    expect(await outcome).toBe('CONNECTION_CLOSED');
    await expect.poll(() => later).toBe('CONNECTION_CLOSED');
    expect(await waiting).toEqual([{ two: 2 }]);
    expect(await db.sql`select id from driver_tx_closed`).toEqual([]);
  });
});

if (pgbouncerOrSkip('connect() through pgbouncer in transaction mode')) {
  describe('connect() through pgbouncer in transaction mode (the RDS Proxy stand-in)', () => {
    test('concurrent transactions on several client connections never meet a missing prepared statement', async () => {
      // GIVEN Landfall's client with more connections than pgbouncer has server connections, so
      // consecutive transactions of one client connection land on different server sessions
      const sql = connect({ url: db.pooledUrl!, max: 8, applicationName: 'driver-pooled' });
      afterAll(() => sql.end({ timeout: 5 }));
      await sql`create table if not exists driver_pooled (id int primary key, n int not null)`;

      // WHEN 200 transactions of three statements each run at once
      const outcomes = await Promise.allSettled(
        Array.from({ length: 200 }, (_, i) =>
          sql.begin(async (tx) => {
            await tx`insert into driver_pooled values (${i}, 0)`;
            await tx`update driver_pooled set n = n + ${1} where id = ${i}`;
            return tx`select n from driver_pooled where id = ${i}`;
          }),
        ),
      );

      // THEN every one committed (no 26000 "prepared statement does not exist", no 25P02)
      expect(outcomes.filter((o) => o.status === 'rejected').map((o) => (o as PromiseRejectedResult).reason.code)).toEqual([]);
      expect(await db.sql`select count(*)::int as n, sum(n)::int as total from driver_pooled`).toEqual([{ n: 200, total: 200 }]);
    });
  });
}
