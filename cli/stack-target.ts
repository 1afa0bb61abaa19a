import type { LandfallConfig } from '../shared/config.ts';
import { connect } from '../shared/db.ts';
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
  if (dev) {
    const { s3 } = devClients(dev);
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
  const stack = await startLocalStack({
    config,
    home,
    ...(context.databaseUrl ? { databaseUrl: context.databaseUrl } : {}),
    ...(io.env.AWS_ENDPOINT_URL ? { awsEndpointUrl: io.env.AWS_ENDPOINT_URL } : {}),
    log: (line) => errors.push(line),
    ...extra,
  });
  return {
    target: { s3: stack.s3, sql: stack.sql, config, buckets: stack.buckets, pollInbox: stack.pollInbox },
    stack,
    attached: false,
    errors,
    close: () => stack.stop(),
  };
}
