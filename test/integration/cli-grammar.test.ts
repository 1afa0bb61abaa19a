import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { main } from '../../cli/main.ts';
import { captureIo } from '../helpers/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'landfall-grammar-'));
const home = { LANDFALL_HOME: join(dir, 'home') };
const run = async (...args: string[]) => {
  const io = captureIo(home);
  const code = await main(['node', 'landfall', ...args], io);
  return { code, out: io.out(), err: io.err() };
};

describe('one CLI grammar', () => {
  test.each(['run', 'status', 'drop', 'doctor', 'rejects ls', 'forget', 'quarantine ls', 'sql', 'dev'])('`%s --help` lists the global options and the exit codes', async (command) => {
    const { code, out } = await run(...command.split(' '), '--help');

    expect(code).toBe(0);
    expect(out).toMatch(/Global Options:\n\s+--config <file>[\s\S]*--database-url <url>/);
    expect(out).toContain('Exit codes:\n  0  everything accounted for');
    expect(out).toContain('2  a config, usage or stack failure');
  });

  test('run accepts --json', async () => {
    const { out } = await run('run', '--help');
    expect(out).toMatch(/--json\s+one JSON receipt per file/);
  });

  test('a config with mistyped fields exits 2 and names every problem with a guess', async () => {
    const config = join(dir, 'typo.json');
    writeFileSync(config, JSON.stringify({ tables: [{ table: 'orders', conflictkey: ['id'], verison: 'v' }] }));

    const ran = await run('run', '--config', config, 'x.csv');
    expect(ran.code).toBe(2);
    expect(ran.err).toContain('unknown field "conflictkey" (did you mean "conflictKey"?)');
    const checked = await run('doctor', '--config', config);
    expect(checked.code).toBe(2);
    expect(checked.err).toContain('unknown field "conflictkey" (did you mean "conflictKey"?)');
    expect(checked.err).toContain('unknown field "verison" (did you mean "version"?)');
  });

  test('drop with no landfall dev running says so, exit 2', async () => {
    const { code, err } = await run('drop', 'samples/inventory/2026-11-01-full.csv');

    expect(code).toBe(2);
    expect(err).toContain('no running landfall dev to drop into');
  });

  test('with --json a failure is JSON on stdout as well', async () => {
    const { code, out } = await run('status', 'nope.csv', '--json', '--database-url', 'postgres://postgres@127.0.0.1:1/x');

    expect(code).toBe(2);
    expect(JSON.parse(out)).toMatchObject({ error: { exitCode: 2, message: expect.stringContaining('could not read the ledger') } });
  });

  test('an unknown option is a usage error, exit 2', async () => {
    expect((await run('status', '--nope')).code).toBe(2);
  });
});

describe('user-facing text refers to the repository\'s own docs', () => {
  const outside = /\.\.\/shared|DESIGN\.md|Rule 4/;

  test('README and docs/ name no file outside the repository', () => {
    const pages = ['README.md', ...readdirSync('docs').map((f) => join('docs', f))];
    for (const page of pages) expect(readFileSync(page, 'utf8'), page).not.toMatch(outside);
    expect(pages).toContain(join('docs', 'operations.md'));
  });

  test('no command help does', async () => {
    for (const command of ['', 'run', 'status', 'dev', 'doctor', 'rejects', 'quarantine', 'forget', 'drop', 'sql', 'replay', 'dedupe']) {
      const { out } = await run(...(command ? [command] : []), '--help');
      expect(out, command).not.toMatch(outside);
      expect(out, command).toContain('docs/operations.md');
    }
  });
});
