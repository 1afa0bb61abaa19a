import { isDeepStrictEqual } from 'node:util';
import { type LandfallConfig } from '../shared/core/config.ts';
import { EnvVar } from '../shared/environment/env.ts';
import { loadConfigFile } from '../shared/environment/config-file.ts';
import { connect, type Sql } from '../shared/postgres/db.ts';
import { blockingReports, preflightTables } from '../shared/tools/doctor/preflight.ts';
import { formatDoctorReport } from '../shared/tools/doctor/format-report.ts';
import { CliError } from './context.ts';
import { parseProducerLimits, type ProducerLimits } from '../shared/producer/producer-contract.ts';
import type { DropTarget } from '../shared/local/run-files.ts';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '../shared/local/stack.ts';
import type { CliIo, ResolvedContext } from './context.ts';
import { devClients, landfallHome, readDevState } from './local.ts';

export interface StackTarget {
  target: DropTarget;
  /** The in-process stack, when this command started one (not when it attached to `landfall dev`). */
  stack: LocalStack | null;
  attached: boolean;
  /** Errors the in-process pollers met (the stack's health). */
  errors: string[];
  close(): Promise<void>;
}

/**
 * Attaches to a running `landfall dev` of this home (same database, same emulator), or starts
 * the local stack in this process: DATABASE_URL / --database-url and AWS_ENDPOINT_URL point it
 * at your own PostgreSQL and LocalStack.
 */
export async function startOrAttach(
  context: ResolvedContext,
  io: CliIo,
  config: LandfallConfig,
  extra: Partial<LocalStackOptions> = {},
): Promise<StackTarget> {
  const home = landfallHome(io.env);
  const dev = context.databaseUrl ? null : readDevState(home);
  if (dev) refuseOtherConfig(dev.configPath, config);
  if (dev) {
    const { s3 } = await devClients(dev);
    const sql = connect({ url: dev.databaseUrl, max: 2, applicationName: 'landfall-cli' });
    return {
      target: { s3, sql, config, buckets: dev.buckets },
      stack: null,
      attached: true,
      errors: [],
      close: () => sql.end({ timeout: 5 }),
    };
  }
  const errors: string[] = [];
  const limits = producerLimitsFromEnv(io.env);
  const stack = await startLocalStack({
    config,
    home,
    ...(limits ? { producer: { limits } } : {}),
    ...(context.databaseUrl ? { databaseUrl: context.databaseUrl } : {}),
    ...(io.env.AWS_ENDPOINT_URL ? { awsEndpointUrl: io.env.AWS_ENDPOINT_URL } : {}),
    log: (line) => errors.push(line),
    ...extra,
  });
  return {
    target: { s3: stack.s3, sql: stack.sql, config, buckets: stack.buckets, pollInbox: stack.pollInbox, invocationEnded: stack.invocationEnded },
    stack,
    attached: false,
    errors,
    close: () => stack.stop(),
  };
}

/**
 * The producer's limits from LANDFALL_PRODUCER_LIMITS, as the stack sets them on the Lambda
 * (`{"maxInvocationsPerFile":N}`, small segments to rehearse continuations); absent: the defaults.
 */
function producerLimitsFromEnv(env: NodeJS.ProcessEnv): Partial<ProducerLimits> | undefined {
  const text = env[EnvVar.producerLimits];
  if (!text) return undefined;
  try {
    return parseProducerLimits(text);
  } catch (error) {
    throw new CliError(`${EnvVar.producerLimits}: ${(error as Error).message}`);
  }
}

/**
 * A running `landfall dev` routes and applies every file by ITS config: attaching with another
 * one would drop files its pipeline treats differently (another prefix, key or table). Refused,
 * exit 2, naming both and the ways out.
 */
function refuseOtherConfig(devConfigPath: string | null, config: LandfallConfig): void {
  let devConfig: LandfallConfig | null = null;
  try {
    devConfig = devConfigPath ? loadConfigFile(devConfigPath) : null;
  } catch {
    devConfig = null;
  }
  if (devConfig && isDeepStrictEqual(devConfig, config)) return;
  throw new CliError(
    `the running landfall dev uses another table config (${devConfigPath ?? 'unknown'}), and its pipeline routes and applies files by that one: ` +
      `run with that --config, stop the dev first, or set ${EnvVar.home} (or --database-url) for a stack of your own`,
    2,
  );
}

/**
 * Checks every configured table before anything is dropped (docs/operations.md, "fail fast"):
 * a missing table, a key without a matching unique index, a missing version or mapped column,
 * or a missing privilege prints doctor's report with the fixes on stderr and is a CliError
 * (exit 2).
 */
export async function refuseUnreadyTables(sql: Sql, config: LandfallConfig, io: CliIo, doing: string): Promise<void> {
  const blocking = blockingReports(await preflightTables(sql, config));
  if (blocking.length === 0) return;
  io.stderr.write(formatDoctorReport(blocking));
  const names = blocking.map((r) => r.table).join(', ');
  // The report (with the fixes) went to stderr; with --json the error carries them as data too.
  const details = {
    tables: blocking.map((r) => ({
      table: r.table,
      problems: r.status === 'unchecked' ? [{ check: 'check', message: `could not check: ${r.error ?? 'unknown error'}`, fix: [] }] : r.checks.filter((c) => c.severity === 'error').map((c) => ({ check: c.check, message: c.message, fix: c.fix })),
    })),
  };
  throw new CliError(`${doing}: refused before dropping anything: ${blocking.length === 1 ? 'table' : 'tables'} ${names} not ready (the fixes: doctor's report on stderr, and error.details with --json; landfall doctor checks again)`, 2, { details });
}
