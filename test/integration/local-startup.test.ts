import { chmodSync, mkdtempSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { parseConfig } from '../../shared/core/config.ts';
import { EmbeddedPostgresError, findFreePort, startEmbeddedPostgres } from '../../shared/local/embedded-postgres.ts';
import { startLocalStack } from '../../shared/local/stack.ts';
import { createTestDatabase } from '../helpers/database.ts';

const dir = mkdtempSync(join(tmpdir(), 'landfall-startup-'));
chmodSync(dir, 0o755);
const config = parseConfig({ tables: [{ table: 'items', conflictKey: ['id'] }] });

async function occupy(): Promise<{ port: number; server: Server }> {
  const port = await findFreePort();
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port, server };
}

function connects(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
}

test('a data directory held by a server left running names its pid and the fix', async () => {
  const dataDir = join(dir, 'pg');
  const first = await startEmbeddedPostgres({ dataDir, persistent: false });
  try {
    const error = await startEmbeddedPostgres({ dataDir, persistent: false }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(EmbeddedPostgresError);
    expect((error as Error).message).toMatch(new RegExp(`data directory ${dataDir} is held by another server \\(pid \\d+\\).*kill \\d+`));
  } finally {
    await first.stop();
  }
});

test('a --db-port in use is refused with the port and the option to change', async () => {
  const { port } = await occupy();

  const error = await startEmbeddedPostgres({ dataDir: join(dir, 'pg2'), persistent: false, port }).catch((e: unknown) => e);

  expect((error as Error).message).toBe(`the embedded PostgreSQL cannot listen on 127.0.0.1:${port}: the port is in use; pick another with --db-port N, or leave it out for any free port`);
});

test('an emulator --port in use names the emulator and --port; the emulator binds 127.0.0.1 only', async () => {
  const db = await createTestDatabase();
  const { port } = await occupy();

  const error = await startLocalStack({ config, home: join(dir, 'home'), databaseUrl: db.url, port, pollers: false }).catch((e: unknown) => e);
  expect((error as Error).message).toBe(`the S3/SQS emulator (fauxqs) cannot listen on 127.0.0.1:${port}: the port is in use; pick another with --port N, or leave it out for any free port`);

  const stack = await startLocalStack({ config, home: join(dir, 'home'), databaseUrl: db.url, pollers: false });
  try {
    expect(stack.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const emulatorPort = Number(new URL(stack.endpoint).port);
    // Reached on loopback, refused on the machine's other address: it listens on 127.0.0.1 only.
    expect(await connects('127.0.0.1', emulatorPort)).toBe('connected');
    const external = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    expect(external, 'this machine has no non-loopback IPv4 address to try').toBeDefined();
    expect(await connects(external!, emulatorPort)).toBe('ECONNREFUSED');
  } finally {
    await stack.stop();
  }
});
