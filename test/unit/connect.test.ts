import { describe, expect, test } from 'vitest';
import { connect } from '../../shared/postgres/db.ts';

// One connection rule for every client (DESIGN.md, Proxy): never a named prepared statement,
// because a transaction pooler may run the next statement on another server session.
describe('connect', () => {
  test('a URL client never prepares statements by name', async () => {
    const sql = connect({ url: 'postgres://u:p@127.0.0.1:1/x' });
    expect(sql.options.prepare).toBe(false);
    await sql.end({ timeout: 0 });
  });

  test('an IAM client never prepares statements by name either', async () => {
    const sql = connect({ iam: { host: 'proxy.example', port: 5432, database: 'app', user: 'landfall', region: 'eu-west-1' }, tokenProvider: async () => 'token' });
    expect(sql.options.prepare).toBe(false);
    await sql.end({ timeout: 0 });
  });
});
