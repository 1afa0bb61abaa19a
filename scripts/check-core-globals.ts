/**
 * What dependency-cruiser cannot see, because it is not an import: shared/core reads no process
 * globals (`process.env`, `process.cwd()`, `process.exit`...), no `require` and no `globalThis`.
 * Parses each file with the TypeScript compiler and reports every reference to those names that
 * is not a property name, a type or a declaration (core has no reason to shadow them).
 *
 * npm run check:architecture runs it after dependency-cruiser; exit 1 on any finding.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const FORBIDDEN_GLOBALS = ['process', 'require', 'globalThis'] as const;

export interface GlobalUse {
  file: string;
  line: number;
  column: number;
  name: string;
  text: string;
}

/** The forbidden globals one source text references. */
export function findGlobalUses(file: string, text: string): GlobalUse[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const uses: GlobalUse[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node) && (FORBIDDEN_GLOBALS as readonly string[]).includes(node.text) && isReference(node)) {
      const { line, character } = source.getLineAndCharacterOfPosition(node.getStart(source));
      const statement = text.split('\n')[line]!.trim();
      uses.push({ file, line: line + 1, column: character + 1, name: node.text, text: statement });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return uses;
}

/** An identifier that names a value in scope: not `x.process`, `{ process: 1 }`, a type or a declaration. */
function isReference(node: ts.Identifier): boolean {
  const parent = node.parent;
  if (ts.isPropertyAccessExpression(parent) && parent.name === node) return false;
  if ((ts.isPropertyAssignment(parent) || ts.isPropertySignature(parent) || ts.isPropertyDeclaration(parent) || ts.isMethodDeclaration(parent)) && parent.name === node) return false;
  if (ts.isQualifiedName(parent) || ts.isTypeReferenceNode(parent)) return false;
  if ((ts.isVariableDeclaration(parent) || ts.isParameter(parent) || ts.isFunctionDeclaration(parent) || ts.isImportSpecifier(parent)) && parent.name === node) return false;
  return true;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return tsFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every forbidden global in the files under `dir`. */
export function checkCoreGlobals(dir: string, root: string): GlobalUse[] {
  return tsFiles(dir).flatMap((path) => findGlobalUses(relative(root, path), readFileSync(path, 'utf8')));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const dirs = process.argv.length > 2 ? process.argv.slice(2) : ['shared/core'];
  const uses = dirs.flatMap((dir) => checkCoreGlobals(join(root, dir), root));
  for (const u of uses) process.stderr.write(`  error core-no-process-globals: ${u.file}:${u.line}:${u.column} uses \`${u.name}\`: ${u.text}\n`);
  if (uses.length) {
    process.stderr.write(`\nx ${uses.length} use(s) of process globals in ${dirs.join(', ')}: pass values in from the caller (shared/environment reads the environment).\n`);
    process.exit(1);
  }
  process.stdout.write(`✔ no process globals in ${dirs.join(', ')}\n`);
}
