import { readdirSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { COMMANDS, commandNamed, findCommand } from '../../cli/command-table.ts';

describe('the command table', () => {
  test('every cli/commands/<name>.ts has its line, and loads a register()', async () => {
    const files = readdirSync('cli/commands').filter((f) => f.endsWith('.ts')).map((f) => f.replace(/\.ts$/, '')).sort();

    expect(COMMANDS.map((c) => c.usage.split(' ')[0]).sort()).toEqual(files);
    for (const entry of COMMANDS) expect(typeof (await entry.load()).register, entry.usage).toBe('function');
  });

  test('finds a command by name or alias', () => {
    expect(findCommand('status')?.usage).toBe('status [file]');
    expect(findCommand('psql')?.usage).toBe('sql');
    expect(findCommand('stauts')).toBeUndefined();
  });
});

describe('commandNamed: the command an argument list runs', () => {
  test.each([
    [['status'], 'status'],
    [['--config', 'status', 'quarantine', 'ls'], 'quarantine'],
    [['--database-url', 'postgres://x', '--json', 'sql', '-c', 'select 1'], 'sql'],
    [['help', 'status'], 'status'],
    [['help'], 'help'],
    [['--help'], undefined],
    [[], undefined],
  ])('%j → %s', (args, name) => {
    expect(commandNamed(args)).toBe(name);
  });
});
