import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'vitest';
import { findFreePort } from '../../shared/local/embedded-postgres.ts';

/**
 * pgbouncer in transaction mode: the local stand-in for RDS Proxy (DESIGN.md, Proxy). Debian's
 * package (`apt-get install pgbouncer`); `.ci/run` installs it, so in CI it is mandatory.
 */
export function pgbouncerBinary(): string | null {
  for (const candidate of ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer']) if (existsSync(candidate)) return candidate;
  const which = spawnSync('which', ['pgbouncer'], { encoding: 'utf8' });
  return which.status === 0 ? which.stdout.trim() || null : null;
}

/**
 * Whether a suite that must run through pgbouncer can run. Without the binary: a failure in CI
 * (CI=true, where `.ci/run` installs it), a loud skip on a developer machine (a skipped test
 * under `name` and a banner on stderr).
 */
export function pgbouncerOrSkip(name: string): boolean {
  if (pgbouncerBinary()) return true;
  if (process.env.CI === 'true') throw new Error(`${name}: pgbouncer is not installed, and CI requires it (apt-get install pgbouncer)`);
  console.warn(`\n*** SKIPPED: ${name}: pgbouncer is not installed (apt-get install pgbouncer); CI runs it ***\n`);
  test.skip(`${name} (needs pgbouncer)`, () => {});
  return false;
}

export interface Pgbouncer {
  /** The given server URL with pgbouncer's host and port instead (same user, password, database). */
  urlFor(serverUrl: string): string;
  port: number;
  /** What pgbouncer logged so far (for a failing test's message). */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts pgbouncer (pool_mode = transaction) in front of a PostgreSQL on 127.0.0.1, forwarding
 * every database name. As root it runs as the `postgres` system user (Debian's pgbouncer
 * refuses root), which the embedded server created.
 */
export async function startPgbouncer(serverUrl: string, options: { poolSize?: number } = {}): Promise<Pgbouncer> {
  const binary = pgbouncerBinary();
  if (!binary) throw new Error('pgbouncer is not installed (apt-get install pgbouncer)');
  const server = new URL(serverUrl);
  const user = decodeURIComponent(server.username);
  const password = decodeURIComponent(server.password);
  const dir = await mkdtemp(join(tmpdir(), 'landfall-pgbouncer-'));
  await chmod(dir, 0o777);
  const port = await findFreePort();
  const quote = (s: string) => `"${s.replaceAll('"', '""')}"`;
  await writeFile(join(dir, 'userlist.txt'), `${quote(user)} ${quote(password)}\n`, { mode: 0o644 });
  await writeFile(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=127.0.0.1 port=${server.port}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      `unix_socket_dir = ${dir}`,
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      'auth_type = scram-sha-256',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      'pool_mode = transaction',
      'max_client_conn = 1000',
      `default_pool_size = ${options.poolSize ?? 20}`,
      'server_reset_query =',
      'ignore_startup_parameters = extra_float_digits,options',
      'server_login_retry = 1',
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  const args = [join(dir, 'pgbouncer.ini')];
  if (process.getuid?.() === 0) args.unshift('-u', 'postgres');
  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await waitForListening(port, child, () => stderr);
  return {
    port,
    log: () => stderr,
    urlFor(url: string) {
      const parsed = new URL(url);
      parsed.hostname = '127.0.0.1';
      parsed.port = String(port);
      return parsed.toString();
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitForListening(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited with ${child.exitCode}: ${stderr()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`pgbouncer did not listen on ${port} within 10 s: ${stderr()}`);
}
