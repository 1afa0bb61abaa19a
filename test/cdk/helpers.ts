import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll } from 'vitest';
import { parseConfig, type LandfallConfig } from '../../shared/core/config.ts';
import { LandfallStack, type LandfallStackProps, PROJECT_ROOT } from '../../cdk/landfall-stack.ts';
import { DEFAULT_ENTRIES, type FunctionEntries } from '../../cdk/props.ts';

export const FIXTURE_HANDLER = join(PROJECT_ROOT, 'test/cdk/fixtures/handler.ts');

/** Two tables with different prefixes and partition counts, as the README's example. */
export const testConfig: LandfallConfig = parseConfig(
  {
    tables: [
      { table: 'public.orders', prefix: 'orders/', conflictKey: ['tenant_id', 'order_id'], version: 'updated_at', partitions: 8 },
      { table: 'public.customers', conflictKey: ['customer_id'], partitions: 4 },
    ],
  },
  'test config',
);

/** The feature flags of cdk.json, so tests synthesise what `cdk synth` does. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
  return cdkJson.context ?? {};
}

/** The real handler entry files; a missing one fails the test that bundles them. */
export function realEntries(): FunctionEntries {
  const missing = Object.values(DEFAULT_ENTRIES).filter((entry) => !existsSync(join(PROJECT_ROOT, entry)));
  if (missing.length > 0) throw new Error(`handler entry files missing: ${missing.join(', ')}`);
  return { ...DEFAULT_ENTRIES };
}

/** Synthesis output folders of this test file, removed after it (vitest isolates each file's modules). */
const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A synthesis folder for an App, removed after the test file (CDK's default folder is never removed). */
export function tempOutdir(): string {
  const outdir = mkdtempSync(join(tmpdir(), 'landfall-cdk-'));
  outdirs.push(outdir);
  return outdir;
}

export interface Synth {
  app: App;
  stack: LandfallStack;
  template: Template;
}

/**
 * One stack, synthesised once per test file. Without `bundle` the functions are not bundled
 * (CDK's `aws:cdk:bundling-stacks` set to none), which keeps mode tests fast.
 */
export function synth(props: Partial<LandfallStackProps> = {}, options: { bundle?: boolean } = {}): Synth {
  const context = { ...cdkJsonContext(), ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) };
  const app = new App({ context, outdir: tempOutdir() });
  const stack = new LandfallStack(app, 'Landfall', {
    config: testConfig,
    entries: { producer: FIXTURE_HANDLER, consumer: FIXTURE_HANDLER, replay: FIXTURE_HANDLER },
    ...props,
  });
  return { app, stack, template: Template.fromStack(stack) };
}

/** The logical id of the single resource of `type` whose properties contain `where`. */
export function logicalIdOf(template: Template, type: string, where: Record<string, unknown>): string {
  const found = Object.keys(template.findResources(type, { Properties: where }));
  if (found.length !== 1) throw new Error(`expected one ${type} matching ${JSON.stringify(where)}, found ${found.length}`);
  return found[0]!;
}

export function propertiesOf(template: Template, logicalId: string): Record<string, unknown> {
  const resource = template.toJSON().Resources[logicalId] as { Properties?: Record<string, unknown> } | undefined;
  if (!resource) throw new Error(`no resource ${logicalId}`);
  return resource.Properties ?? {};
}
