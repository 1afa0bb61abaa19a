// Bundles the CLI (cli/main.ts and everything it imports from the repository) into
// dist/cli/<build>/, one chunk per command, so `landfall` runs plain JavaScript instead of
// transpiling TypeScript on every call. Run by `npm install`/`npm ci` (postinstall) and
// `npm run build:cli`; bin/landfall.js runs it again by itself when a source file changed since.
// Plain JavaScript: it runs before anything is built, on whatever Node runs npm.
//
// dist/cli/current.json names the current build and the files it was built from (with their
// mtimes). A new build goes into a new folder and then replaces current.json in one rename, so a
// `landfall` starting meanwhile, or a `landfall dev` still loading chunks of the build it started
// with, never sees a half-written or deleted one.
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const buildsDir = join(root, 'dist', 'cli');
export const currentPath = join(buildsDir, 'current.json');
/** Older builds are removed once this old (a long-running `landfall dev` may still load chunks of its own). */
const KEEP_OLD_BUILDS_MS = 24 * 3600 * 1000;

/** Builds the CLI into a new folder, makes it current, returns `{ dir, inputs }` as current.json says. */
export async function buildCli() {
  const { build } = await import('esbuild');
  const dir = `build-${Date.now().toString(36)}-${process.pid}`;
  const result = await build({
    absWorkingDir: root,
    // The producer's block workers run their own entry (shared/producer/block-workers.ts finds it beside its chunk).
    entryPoints: { landfall: 'cli/main.ts', 'landfall-block-worker': 'shared/producer/block-worker.ts' },
    outdir: join(buildsDir, dir),
    bundle: true,
    // Each command's module is its own chunk, loaded only when that command runs.
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    outExtension: { '.js': '.mjs' },
    // Packages load from node_modules at run time, as installed (patched by patch-package, with
    // their native parts): only the repository's TypeScript is bundled. A file's
    // `new URL('../../x', import.meta.url)` works the same from dist/cli/<build>/ as from cli/commands/.
    packages: 'external',
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
  });
  const inputs = Object.keys(result.metafile.inputs)
    .filter((p) => !p.startsWith('node_modules/'))
    .map((p) => ({ path: p, mtimeMs: statSync(join(root, p)).mtimeMs }));
  const current = { dir, built: new Date().toISOString(), inputs };
  const temporary = `${currentPath}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(current, null, 1)}\n`);
  renameSync(temporary, currentPath);
  for (const old of readdirSync(buildsDir)) {
    const path = join(buildsDir, old);
    if (old.startsWith('build-') && old !== dir && Date.now() - statSync(path).mtimeMs > KEEP_OLD_BUILDS_MS) rmSync(path, { recursive: true, force: true });
  }
  return current;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = Date.now();
  mkdirSync(buildsDir, { recursive: true });
  const { dir, inputs } = await buildCli();
  console.log(`landfall: CLI built into ${relative(process.cwd(), join(buildsDir, dir))} from ${inputs.length} files in ${Date.now() - started} ms`);
}
