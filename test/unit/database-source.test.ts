import { describe, expect, test } from 'vitest';
import { databaseFromEnv, urlFromSecret } from '../../shared/lambda/consumer-runtime.ts';

describe('databaseFromEnv', () => {
  test('DATABASE_URL wins over the IAM settings', () => {
    expect(databaseFromEnv({ DATABASE_URL: 'postgres://u:p@db:5432/x', LANDFALL_DB_HOST: 'proxy.example' }, 'consumer')).toEqual({
      kind: 'options',
      options: { url: 'postgres://u:p@db:5432/x', max: 1, applicationName: 'landfall-consumer' },
    });
  });

  test('IAM auth through the proxy when host, name and user are set', () => {
    const source = databaseFromEnv({ LANDFALL_DB_HOST: 'proxy.example', LANDFALL_DB_NAME: 'app', LANDFALL_DB_USER: 'landfall', AWS_REGION: 'eu-west-1' }, 'consumer');
    expect(source).toMatchObject({ kind: 'options', options: { iam: { host: 'proxy.example', port: 5432, database: 'app', user: 'landfall', region: 'eu-west-1' } } });
  });

  test('nothing set names the missing variables', () => {
    expect(() => databaseFromEnv({}, 'replay')).toThrow('replay: missing environment variable(s): LANDFALL_DB_HOST, LANDFALL_DB_NAME, LANDFALL_DB_USER');
  });
});

describe('urlFromSecret', () => {
  test("RDS's JSON secret with the proxy endpoint as host override; the password is URL-encoded", () => {
    const url = urlFromSecret(JSON.stringify({ username: 'app', password: 'p@ss/w:rd', host: 'instance.rds', port: 5432, dbname: 'prod' }), { host: 'proxy.rds' });
    expect(new URL(url).hostname).toBe('proxy.rds');
    expect(decodeURIComponent(new URL(url).password)).toBe('p@ss/w:rd');
    expect(new URL(url).pathname).toBe('/prod');
  });

  test('a plain URL secret', () => {
    expect(urlFromSecret('postgres://a:b@h:6543/d', {})).toBe('postgres://a:b@h:6543/d');
  });

  test('a secret without a host and no override is an error', () => {
    expect(() => urlFromSecret(JSON.stringify({ username: 'a', password: 'b' }), {})).toThrow(/names no host/);
  });
});
