import { type ChildProcess, spawn } from 'node:child_process';

/** Polls `probe` until it returns a value (not undefined), or throws after `timeoutMs`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * `landfall dev` as a user starts it (`bin/landfall.js`, the given config, database and
 * LANDFALL_HOME); resolves once it watches the inbox, with what it printed so far. The child is
 * pushed on `children` for the test's clean-up.
 */
export function startDev(options: { configPath: string; databaseUrl: string; home: string; children: ChildProcess[] }): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, ['bin/landfall.js', 'dev', '--config', options.configPath, '--database-url', options.databaseUrl], {
    env: { ...process.env, LANDFALL_HOME: options.home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  options.children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (out.includes('Watching the inbox')) {
        clearInterval(timer);
        resolve({ child, output: () => out });
      }
    }, 50);
    child.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`landfall dev exited (${code}) before it watched the inbox:\n${out}`));
    });
  });
}
