import { describe, expect, test } from 'vitest';
import { classifyFailure, FAILURE_RULES, type FailureScope } from '../../shared/core/classify-pg-error.ts';

/** A `postgres` driver error with a SQLSTATE or a driver code. */
const pg = (code: string) => Object.assign(new Error(`error ${code}`), { name: 'PostgresError', code });
/** What `addColumns` throws when `"schema": "evolve"` cannot add a file's columns. */
const evolve = (code: string) => Object.assign(new Error(`"schema": "evolve" could not add "c": error ${code}`), { name: 'ColumnAdditionError', code });
const named = (name: string) => Object.assign(new Error(name), { name });
const aws = (fault: 'client' | 'server', httpStatusCode: number, retryable?: object) =>
  Object.assign(new Error('aws'), { name: 'AwsError', $fault: fault, $metadata: { httpStatusCode }, ...(retryable ? { $retryable: retryable } : {}) });

/**
 * One row per rule of FAILURE_RULES (the key names it: `on:match[@stage]`): an error it must
 * match and the scope it must get. Written out by hand, so a rule changed by mistake fails here,
 * and a rule added without its row fails the coverage test below.
 */
const EXPECTED: [rule: string, example: unknown, scope: FailureScope][] = [
  ['name:TableConfigError', named('TableConfigError'), 'table'],
  ['name:TableNotFoundError', named('TableNotFoundError'), 'table'],
  ['name:ConfigError', named('ConfigError'), 'table'],
  ['name:EnvironmentError', named('EnvironmentError'), 'table'],
  ['name:DatabaseTlsError', named('DatabaseTlsError'), 'table'],
  ['name:AppRoleError', named('AppRoleError'), 'table'],
  ['name:BatchShapeError', named('BatchShapeError'), 'batch'],
  ['aws:retryable', aws('client', 400, { throttling: true }), 'transient'],
  ['aws:client', aws('client', 403), 'table'],
  ['code:CONNECTION_CLOSED', pg('CONNECTION_CLOSED'), 'transient'],
  ['code:CONNECTION_ENDED', pg('CONNECTION_ENDED'), 'transient'],
  ['code:CONNECTION_DESTROYED', pg('CONNECTION_DESTROYED'), 'transient'],
  ['code:CONNECT_TIMEOUT', pg('CONNECT_TIMEOUT'), 'transient'],
  ['code:ECONNRESET', pg('ECONNRESET'), 'transient'],
  ['code:ECONNREFUSED', pg('ECONNREFUSED'), 'transient'],
  ['code:ETIMEDOUT', pg('ETIMEDOUT'), 'transient'],
  ['code:EPIPE', pg('EPIPE'), 'transient'],
  ['code:ENOTFOUND', pg('ENOTFOUND'), 'transient'],
  ['code:EAI_AGAIN', pg('EAI_AGAIN'), 'transient'],
  ['code:EHOSTUNREACH', pg('EHOSTUNREACH'), 'transient'],
  ['code:ECONNABORTED', pg('ECONNABORTED'), 'transient'],
  ['code:ENETUNREACH', pg('ENETUNREACH'), 'transient'],
  ['code:ENETDOWN', pg('ENETDOWN'), 'transient'],
  ['code:EHOSTDOWN', pg('EHOSTDOWN'), 'transient'],
  ['code:UNDEFINED_VALUE', pg('UNDEFINED_VALUE'), 'bug'],
  ['code:MAX_PARAMETERS_EXCEEDED', pg('MAX_PARAMETERS_EXCEEDED'), 'bug'],
  ['code:NOT_TAGGED_CALL', pg('NOT_TAGGED_CALL'), 'bug'],
  ['code:UNSAFE_TRANSACTION', pg('UNSAFE_TRANSACTION'), 'bug'],
  ['code:COPY_IN_PROGRESS', pg('COPY_IN_PROGRESS'), 'bug'],
  ['code:MESSAGE_NOT_SUPPORTED', pg('MESSAGE_NOT_SUPPORTED'), 'bug'],
  ['code:SASL_SIGNATURE_MISMATCH', pg('SASL_SIGNATURE_MISMATCH'), 'login'],
  ['code:ERR_TLS_*', pg('ERR_TLS_CERT_ALTNAME_INVALID'), 'table'],
  ['code:ERR_SSL_*', pg('ERR_SSL_WRONG_VERSION_NUMBER'), 'table'],
  ['code:ERR_*', pg('ERR_INVALID_ARG_TYPE'), 'bug'],
  ['sqlstate:00xxx', pg('00000'), 'bug'],
  ['sqlstate:01xxx', pg('01000'), 'bug'],
  ['sqlstate:02xxx', pg('02000'), 'bug'],
  ['sqlstate:03xxx', pg('03000'), 'bug'],
  ['sqlstate:08xxx', pg('08006'), 'transient'],
  ['sqlstate:09xxx', pg('09000'), 'row'],
  ['sqlstate:0Axxx', pg('0A000'), 'table'],
  ['sqlstate:0Bxxx', pg('0B000'), 'bug'],
  ['sqlstate:0Fxxx', pg('0F001'), 'bug'],
  ['sqlstate:0Lxxx', pg('0LP01'), 'table'],
  ['sqlstate:0Pxxx', pg('0P000'), 'table'],
  ['sqlstate:0Zxxx', pg('0Z002'), 'bug'],
  ['sqlstate:20xxx', pg('20000'), 'row'],
  ['sqlstate:21xxx', pg('21000'), 'row'],
  ['sqlstate:22xxx', pg('22P02'), 'row'],
  ['sqlstate:22xxx@evolve', evolve('22021'), 'batch'],
  ['sqlstate:23xxx', pg('23503'), 'row'],
  ['sqlstate:24xxx', pg('24000'), 'bug'],
  ['sqlstate:25xxx', pg('25P02'), 'bug'],
  ['sqlstate:25006', pg('25006'), 'transient'],
  ['sqlstate:25P03', pg('25P03'), 'transient'],
  ['sqlstate:25P04', pg('25P04'), 'transient'],
  ['sqlstate:26xxx', pg('26000'), 'bug'],
  ['sqlstate:27xxx', pg('27000'), 'row'],
  // Class 28 has two codes today; the class rule is for one PostgreSQL may add.
  ['sqlstate:28xxx', pg('28P02'), 'login'],
  ['sqlstate:28000', pg('28000'), 'transient'],
  ['sqlstate:28P01', pg('28P01'), 'transient'],
  ['sqlstate:2Bxxx', pg('2BP01'), 'table'],
  ['sqlstate:2Dxxx', pg('2D000'), 'bug'],
  ['sqlstate:2Fxxx', pg('2F005'), 'row'],
  ['sqlstate:34xxx', pg('34000'), 'bug'],
  ['sqlstate:38xxx', pg('38001'), 'table'],
  ['sqlstate:39xxx', pg('39P01'), 'table'],
  ['sqlstate:3Bxxx', pg('3B001'), 'bug'],
  ['sqlstate:3Dxxx', pg('3D000'), 'table'],
  ['sqlstate:3Fxxx', pg('3F000'), 'table'],
  ['sqlstate:40xxx', pg('40P01'), 'transient'],
  ['sqlstate:42xxx', pg('42703'), 'table'],
  ['sqlstate:42P01', pg('42P01'), 'table'],
  ['sqlstate:42501', pg('42501'), 'table'],
  ['sqlstate:42804', pg('42804'), 'row'],
  ['sqlstate:42P18', pg('42P18'), 'row'],
  ['sqlstate:428C9', pg('428C9'), 'batch'],
  ['sqlstate:42xxx@evolve', evolve('42701'), 'batch'],
  ['sqlstate:42501@evolve', evolve('42501'), 'batch'],
  ['sqlstate:44xxx', pg('44000'), 'row'],
  ['sqlstate:53xxx', pg('53300'), 'transient'],
  ['sqlstate:54xxx', pg('54000'), 'row'],
  ['sqlstate:54011', pg('54011'), 'batch'],
  ['sqlstate:54023', pg('54023'), 'batch'],
  ['sqlstate:55xxx', pg('55000'), 'table'],
  ['sqlstate:55P03', pg('55P03'), 'transient'],
  ['sqlstate:55006', pg('55006'), 'transient'],
  ['sqlstate:57xxx', pg('57P01'), 'transient'],
  ['sqlstate:57P04', pg('57P04'), 'table'],
  ['sqlstate:58xxx', pg('58030'), 'transient'],
  ['sqlstate:72xxx', pg('72000'), 'transient'],
  ['sqlstate:F0xxx', pg('F0000'), 'table'],
  ['sqlstate:HVxxx', pg('HV000'), 'table'],
  ['sqlstate:P0xxx', pg('P0001'), 'row'],
  ['sqlstate:XXxxx', pg('XX000'), 'transient'],
  ['sqlstate:XX001', pg('XX001'), 'table'],
  ['sqlstate:XX002', pg('XX002'), 'table'],
];

const keyOf = (r: { on: string; match: string; stage?: string }) => `${r.on}:${r.match}${r.stage ? `@${r.stage}` : ''}`;

describe('FAILURE_RULES: one case per rule', () => {
  test.each(EXPECTED)('%s is %s', (rule, example, scope) => {
    const failure = classifyFailure(example);

    expect(keyOf(failure.rule)).toBe(rule);
    expect(failure.scope).toBe(scope);
  });

  test('every rule has its case above, and no rule is listed twice', () => {
    const keys = FAILURE_RULES.map(keyOf);

    expect(new Set(keys).size).toBe(keys.length);
    expect(EXPECTED.map(([rule]) => rule).sort()).toEqual([...keys].sort());
  });

  test('every rule of the table or the batch says what it means, and the batch\'s and the table\'s SQLSTATE rules say what fixes them where a person can', () => {
    for (const rule of FAILURE_RULES) expect(rule.meaning.length, keyOf(rule)).toBeGreaterThan(3);
    const batchSqlstates = FAILURE_RULES.filter((r) => r.scope === 'batch' && r.on === 'sqlstate');
    for (const rule of batchSqlstates) expect(rule.fix, keyOf(rule)).toMatch(/\w/);
  });
});

describe('a refused login', () => {
  test.each([
    ['28P01 (a password refused, as after a rotation)', pg('28P01')],
    ['28000 (a login refused: RDS Proxy after a rotation, or a role that cannot log in)', pg('28000')],
  ])('%s is retried, the secret read again, and says what fixes it when it stays', (_what, error) => {
    const failure = classifyFailure(error);

    expect(failure.scope).toBe('transient');
    expect(failure.rule.rereadsSecret).toBe(true);
    expect(failure.rule.fix).toMatch(/reads the database secret again/);
    expect(failure.rule.fix).toMatch(/ALTER ROLE … PASSWORD/);
  });

  test('28000 that stays names the role and the server\'s rules too', () => {
    expect(classifyFailure(pg('28000')).rule.fix).toMatch(/landfall grant-role/);
  });

  test.each([
    ['a class 28 code PostgreSQL may add', pg('28P02'), /landfall grant-role/],
    ['SASL_SIGNATURE_MISMATCH: the server did not prove it holds the password', pg('SASL_SIGNATURE_MISMATCH'), /TLS that verifies/],
  ])('%s is the login\'s, with its fix, and no other secret read helps', (_what, error, fix) => {
    const failure = classifyFailure(error);

    expect(failure.scope).toBe('login');
    expect(failure.rule.fix).toMatch(fix);
    expect(failure.rule.rereadsSecret).toBeUndefined();
  });

  test('only 28000 and 28P01 read the secret again', () => {
    expect(FAILURE_RULES.filter((r) => r.rereadsSecret).map((r) => r.match)).toEqual(['28000', '28P01']);
  });
});

describe('what is never the table\'s', () => {
  test.each([
    ['54011 from evolve: the file has more columns than PostgreSQL allows', evolve('54011')],
    ['54011 from a statement: a target list over its limit', pg('54011')],
    ['42701 from evolve: a column of the file named like a system column', evolve('42701')],
    ['42501 from evolve: no ownership to add the file\'s columns', evolve('42501')],
    ['22021 from evolve: a column name with a byte the encoding refuses', evolve('22021')],
    ['a GENERATED ALWAYS column the file carries', pg('428C9')],
    ['a trigger\'s RAISE EXCEPTION', pg('P0001')],
    ['a value too big for an index entry', pg('54000')],
    ['a CHECK constraint', pg('23514')],
  ])('%s', (_what, error) => {
    expect(['batch', 'row']).toContain(classifyFailure(error).scope);
  });

  test('a lock timeout or a lost connection while adding columns is transient, a vanished table the table\'s', () => {
    expect(classifyFailure(evolve('55P03')).scope).toBe('transient');
    expect(classifyFailure(evolve('CONNECTION_CLOSED')).scope).toBe('transient');
    expect(classifyFailure(evolve('42P01')).scope).toBe('table');
  });
});

describe('fallbacks', () => {
  test('a SQLSTATE no rule knows is the table\'s (a person must look)', () => {
    expect(classifyFailure(pg('ZZ999')).scope).toBe('table');
  });

  test('a driver code no rule knows (a certificate code) is the table\'s', () => {
    expect(classifyFailure(pg('SELF_SIGNED_CERT_IN_CHAIN')).scope).toBe('table');
  });

  test.each([new TypeError('x'), new Error('no code'), 'a string', null, undefined])('no code at all (%s) is a bug', (error) => {
    expect(classifyFailure(error).scope).toBe('bug');
  });

  test('the code is read from the error', () => {
    expect(classifyFailure(evolve('54011'))).toMatchObject({ code: '54011', stage: 'evolve' });
    expect(classifyFailure(pg('23505'))).toMatchObject({ code: '23505', stage: null });
  });
});
