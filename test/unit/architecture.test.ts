import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { cruise, type ICruiseResult, type IConfiguration } from 'dependency-cruiser';
import { afterAll, describe, expect, it } from 'vitest';
import { findGlobalUses } from '../../scripts/check-core-globals.ts';

// The rules of npm run check:architecture, run on a small tree of deliberately wrong imports:
// each must be reported by the rule that names it (a rule that matches nothing would pass CI forever).
const config = createRequire(import.meta.url)('../../.dependency-cruiser.cjs') as IConfiguration;

const fixture: Record<string, string> = {
  'shared/core/plan.ts': "import { readFileSync } from 'node:fs';\nimport { createHash } from 'node:crypto';\nimport { sql } from '../postgres/db.ts';\nexport const x = [readFileSync, createHash, sql];\n",
  'shared/core/codec.ts': "import { gzipSync } from 'node:zlib';\nimport { Readable } from 'node:stream';\nexport const y = [gzipSync, Readable];\n",
  'shared/postgres/db.ts': 'export const sql = 1;\n',
  'shared/aws/store.ts': "import { run } from '../local/stack.ts';\nexport const z = run;\n",
  'shared/local/stack.ts': "import { z } from '../aws/store.ts';\nexport const run = () => z;\n",
  'shared/producer/produce.ts': "import { sql } from '../postgres/db.ts';\nexport const p = sql;\n",
};

let root: string | undefined;
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

async function cruiseFixture(): Promise<ICruiseResult> {
  root = mkdtempSync(join(tmpdir(), 'landfall-architecture-'));
  for (const [path, text] of Object.entries(fixture)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  const { tsConfig: _ignored, ...options } = config.options ?? {};
  const result = await cruise(['shared'], { ...options, baseDir: root, validate: true, ruleSet: { forbidden: config.forbidden ?? [] } });
  return result.output as ICruiseResult;
}

describe('npm run check:architecture', () => {
  it('reports each wrong import by the rule it breaks, and nothing allowed', async () => {
    const result = await cruiseFixture();
    const found = result.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`).sort();
    expect(found).toEqual(
      [
        'adapters-not-outer-layers: shared/aws/store.ts → shared/local/stack.ts',
        'core-imports-only-core: shared/core/plan.ts → shared/postgres/db.ts',
        'core-no-io-builtins: shared/core/codec.ts → zlib',
        'core-no-io-builtins: shared/core/plan.ts → fs',
        'no-circular: shared/aws/store.ts → shared/local/stack.ts',
        'producer-engine-no-database-no-aws: shared/producer/produce.ts → shared/postgres/db.ts',
      ].sort(),
    );
  });

  it('finds process globals in core sources, not property names or types', () => {
    const text = [
      'export const a = process.env.LANDFALL_CONFIG;',
      'export const b = (env: NodeJS.ProcessEnv) => env.process;',
      'export const c = { process: 1 };',
      'export const d = globalThis.process;',
      "export const e = require('node:fs');",
    ].join('\n');
    expect(findGlobalUses('shared/core/x.ts', text).map((u) => `${u.line}:${u.name}`)).toEqual(['1:process', '4:globalThis', '5:require']);
  });
});
