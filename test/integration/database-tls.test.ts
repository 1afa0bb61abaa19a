import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../cdk/landfall-stack.ts';
import { connectFromSettings } from '../../shared/lambda/consumer-runtime.ts';
import { type ConnectOptions, DatabaseTlsError } from '../../shared/postgres/db.ts';
import { parseConfig } from '../../shared/core/config.ts';
import { startTlsPostgres, type TlsPostgres } from '../helpers/tls-postgres.ts';

// Finding 3 of issue 11: every remote connection verifies the server's certificate and name.
// The CA reaches the client the way the RDS CA bundle reaches a Lambda function: through
// NODE_EXTRA_CA_CERTS, read by Node at start-up, so each connection runs in a child process.

const run = promisify(execFile);
let server: TlsPostgres;
beforeAll(async () => {
  server = await startTlsPostgres();
});
afterAll(() => server?.stop());

type Probe = { ssl?: boolean; error?: string };
async function probe(options: ConnectOptions, env: { caFile?: string } = {}, password?: string): Promise<Probe> {
  const { NODE_EXTRA_CA_CERTS: _inherited, ...rest } = process.env;
  const { stdout } = await run(join(PROJECT_ROOT, 'node_modules/.bin/tsx'), [join(PROJECT_ROOT, 'test/helpers/connect-probe.ts'), JSON.stringify({ options, password })], {
    env: { ...rest, ...(env.caFile ? { NODE_EXTRA_CA_CERTS: env.caFile } : {}) },
    timeout: 30_000,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Probe;
}

const byUrl = (host: string): ConnectOptions => ({ url: server.url(host), max: 1 });
const byIam = (host: string): ConnectOptions => ({ iam: { host, port: server.port, database: 'postgres', user: server.user, region: 'eu-west-1' }, max: 1 });

describe.each([
  ['a URL without sslmode (DATABASE_URL, a secret)', byUrl],
  ['IAM auth (the token as password)', byIam],
])('%s', (_name, options) => {
  const password = (o: ConnectOptions) => (o.iam ? server.password : undefined);

  it('refuses a server whose certificate comes from a CA the client does not trust', async () => {
    const o = options(server.hosts.certified);
    const result = await probe(o, {}, password(o));
    expect(result.error).toMatch(/self[- ]signed certificate|unable to (verify|get local issuer)/i);
  });

  it('connects over TLS when the CA is given through NODE_EXTRA_CA_CERTS', async () => {
    const o = options(server.hosts.certified);
    expect(await probe(o, { caFile: server.caFile }, password(o))).toEqual({ ssl: true });
  });

  it('refuses a trusted certificate that names another host', async () => {
    const o = options(server.hosts.uncertified);
    const result = await probe(o, { caFile: server.caFile }, password(o));
    expect(result.error).toMatch(/not in the cert's list|does not match/i);
  });
});

describe('credentials from a Secrets Manager secret', () => {
  const secrets = (secretString: string) => ({ send: async () => ({ SecretString: secretString }) }) as unknown as SecretsManagerClient;
  const settings = {
    config: parseConfig({ tables: [{ table: 't', conflictKey: ['id'] }] }),
    stagingBucket: 'staging',
    dlqUrl: 'http://dlq',
    database: { kind: 'secret' as const, secretArn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-AbCdEf', overrides: {}, proxy: true, who: 'consumer' },
  };

  it("RDS's JSON secret (no sslmode) is verified: a server with an untrusted certificate is refused", async () => {
    const json = JSON.stringify({ username: server.user, password: server.password, host: server.hosts.certified, port: server.port, dbname: 'postgres' });
    const sql = await connectFromSettings(settings, secrets(json));
    try {
      await expect(sql`SELECT 1`).rejects.toThrow(/self[- ]signed certificate|unable to (verify|get local issuer)/i);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  it.each(['require', 'prefer', 'no-verify', 'disable'])('a secret URL with sslmode=%s is refused before anything is sent', async (mode) => {
    const url = server.url(server.hosts.certified, `?sslmode=${mode}`);
    await expect(connectFromSettings(settings, secrets(url))).rejects.toThrow(DatabaseTlsError);
  });

  it('the refusal names the secret and the fix, not the password', async () => {
    const url = server.url(server.hosts.certified, '?sslmode=require');
    const error = (await connectFromSettings(settings, secrets(url)).then(
      () => new Error('connected'),
      (e: unknown) => e,
    )) as Error;
    expect([error.message.includes(settings.database.secretArn), error.message.includes('verify-full'), error.message.includes(server.password)]).toEqual([
      true,
      true,
      false,
    ]);
  });
});
