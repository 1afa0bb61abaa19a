import { describe, expect, test } from 'vitest';
import { classifyCode, classifyPgError } from '../../shared/core/classify-pg-error.ts';

describe('classifyCode', () => {
  test.each([
    ['08000', 'transient'], // connection exception
    ['08006', 'transient'], // connection failure
    ['40001', 'transient'], // serialization failure
    ['40P01', 'transient'], // deadlock
    ['53300', 'transient'], // too many connections
    ['53100', 'transient'], // disk full
    ['57P01', 'transient'], // admin shutdown
    ['57014', 'transient'], // statement timeout / cancel
    ['55P03', 'transient'], // lock not available
    ['CONNECTION_CLOSED', 'transient'],
    ['CONNECT_TIMEOUT', 'transient'],
    ['ECONNRESET', 'transient'],
    ['21000', 'batch-poison'], // cardinality violation
    ['22P02', 'batch-poison'], // invalid text representation
    ['22007', 'batch-poison'], // invalid datetime format
    ['22001', 'batch-poison'], // string too long
    ['23505', 'batch-poison'], // unique violation
    ['23502', 'batch-poison'], // not null violation
    ['23503', 'batch-poison'], // foreign key violation
    ['23514', 'batch-poison'], // check violation
    ['42804', 'batch-poison'], // datatype mismatch from data
    ['42P01', 'config'], // undefined table
    ['42703', 'config'], // undefined column
    ['42501', 'config'], // insufficient privilege
    ['57P04', 'config'], // database dropped
    ['0A000', 'config'], // feature not supported
    ['SASL_SIGNATURE_MISMATCH', 'config'], // a proxy in the middle: the login's, a person must act
    ['28000', 'transient'], // a login refused (RDS Proxy after a rotation): the secret is read again
    ['28P01', 'transient'], // a password refused (a rotation): the secret is read again
    ['UNDEFINED_VALUE', 'bug'], // undefined bound as a parameter
    ['ERR_INVALID_ARG_TYPE', 'bug'], // a Node API called wrongly
    [undefined, 'bug'], // no code: nothing says the database failed
  ])('%s is %s', (code, expected) => {
    expect(classifyCode(code)).toBe(expected);
  });
});

describe('classifyPgError', () => {
  test('reads the code of a driver error', () => {
    expect(classifyPgError(Object.assign(new Error('x'), { code: '23505' }))).toBe('batch-poison');
  });

  test('a socket error is transient by its code', () => {
    expect(classifyPgError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe('transient');
  });

  test.each([new TypeError("Cannot read properties of undefined (reading 'name')"), new RangeError('Invalid array length'), new Error('no code'), 'a string'])(
    'an error that is not the database, the network or the data (%s) is a bug, never transient',
    (error) => {
      expect(classifyPgError(error)).toBe('bug');
    },
  );

  test('an AWS SDK error: throttling and server faults are transient, access denied is config', () => {
    const aws = (name: string, fault: 'client' | 'server', httpStatusCode: number, retryable?: object) =>
      Object.assign(new Error(name), { name, $fault: fault, $metadata: { httpStatusCode }, ...(retryable ? { $retryable: retryable } : {}) });
    expect(classifyPgError(aws('SlowDown', 'client', 503))).toBe('transient');
    expect(classifyPgError(aws('InternalError', 'server', 500))).toBe('transient');
    expect(classifyPgError(aws('ThrottlingException', 'client', 400, { throttling: true }))).toBe('transient');
    expect(classifyPgError(aws('AccessDenied', 'client', 403))).toBe('config');
  });

  test.each(['ConfigError', 'TableConfigError', 'EnvironmentError', 'TableNotFoundError'])('a %s is config', (name) => {
    expect(classifyPgError(Object.assign(new Error('x'), { name }))).toBe('config');
  });
});
