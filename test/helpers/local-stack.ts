import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import type { LandfallConfig } from '../../shared/core/config.ts';
import { dropFile, type DropTarget, type RunReceipt, tableForFile, waitForFile } from '../../shared/local/run-files.ts';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '../../shared/local/stack.ts';

/** Visibility timeouts short enough for a test to see retries (the stack's are minutes). */
export const FAST_VISIBILITY = { intake: 2, batches: 2, batchesDlq: 2, intakeDlq: 2, parking: 2 } as const;

export interface TestStack {
  stack: LocalStack;
  target: DropTarget;
  dir: string;
  /** Writes a file into the test's folder and returns its path. */
  file(name: string, body: string | Uint8Array): string;
  /** Drops the file (as `landfall run` does) and waits for its receipt. */
  run(path: string, table?: string): Promise<RunReceipt>;
}

/** The whole local stack (fauxqs in-process, pollers, handlers) on the test's database; stopped after the file. */
export async function startTestStack(config: LandfallConfig, databaseUrl: string, extra: Partial<LocalStackOptions> = {}): Promise<TestStack> {
  const dir = mkdtempSync(join(tmpdir(), 'landfall-e2e-'));
  chmodSync(dir, 0o755);
  const stack = await startLocalStack({ config, home: join(dir, 'home'), databaseUrl, visibilityTimeouts: FAST_VISIBILITY, logLevel: (process.env.LANDFALL_TEST_LOG as 'ERROR' | undefined) ?? 'SILENT', ...extra });
  afterAll(() => stack.stop());
  const target: DropTarget = { s3: stack.s3, sql: stack.sql, config, buckets: stack.buckets, pollInbox: stack.pollInbox, invocationEnded: stack.invocationEnded };
  return {
    stack,
    target,
    dir,
    file(name, body) {
      const path = join(dir, name);
      writeFileSync(path, body);
      return path;
    },
    async run(path, table) {
      const dropped = await dropFile(target, path, tableForFile(config, path, table));
      return waitForFile(target, dropped, { timeoutMs: 60_000 });
    },
  };
}
