import { describe, expect, test } from 'vitest';
import { commandTag, formatAligned, splitStatements } from '../../cli/sql-text.ts';

describe('splitStatements: SQL cut at top-level semicolons, as PostgreSQL reads it', () => {
  test.each([
    // Without its `;` the last one is not complete (the prompt waits for more; -c runs it all).
    ['select 1; select 2', ['select 1', 'select 2'], false],
    ["select ';' as a; select 'it''s';", ["select ';' as a", "select 'it''s'"], true],
    ["select E'\\';' ; select 2;", ["select E'\\';'", 'select 2'], true],
    ['select "a;b" from t;', ['select "a;b" from t'], true],
    ['select $$;$$, $fn$ ; $$ ; $fn$;', ['select $$;$$, $fn$ ; $$ ; $fn$'], true],
    ['select 1 -- a; comment\n;', ['select 1 -- a; comment'], true],
    ['select /* a; /* nested; */ b; */ 1;', ['select /* a; /* nested; */ b; */ 1'], true],
    ['\\dt\nselect 1;', ['\\dt', 'select 1'], true],
    ['\\d orders', ['\\d orders'], true],
    ['select 1', ['select 1'], false],
    ["select 'open;", ["select 'open;"], false],
    ['select 1; -- done', ['select 1'], true],
    ['select a$b; select 2;', ['select a$b', 'select 2'], true],
  ])('%j', (text, statements, complete) => {
    expect(splitStatements(text)).toEqual({ statements, complete });
  });
});

describe('formatAligned: psql\'s aligned format', () => {
  test('two columns of the same name stay two, numbers right, text left, the last column not padded', () => {
    const text = formatAligned({ command: 'SELECT', count: 2, columns: [{ name: 'a', type: 23 }, { name: 'a', type: 23 }, { name: 'bb', type: 25 }], rows: [['1', '2', 'xyz'], ['10', null, 'x']] });

    expect(text).toBe(' a  | a | bb  \n----+---+-----\n  1 | 2 | xyz\n 10 |   | x\n(2 rows)\n\n');
  });

  test('a statement without rows prints its tag as psql does', () => {
    expect(formatAligned({ command: 'CREATE TABLE', count: null, columns: null, rows: [] })).toBe('CREATE TABLE\n');
    expect(commandTag({ command: 'INSERT', count: 2 })).toBe('INSERT 0 2');
    expect(commandTag({ command: 'DELETE', count: 0 })).toBe('DELETE 0');
  });
});
