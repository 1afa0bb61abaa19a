import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_NAME_PREFIX, type QueueKey } from '../core/resources.ts';

/*
 * The state file of a running `landfall dev`, which the other commands read to attach to it.
 * Kept apart from stack.ts so that reading it loads neither the emulator nor the AWS SDK (a
 * `landfall status` stays fast).
 */

/** The state file a running `landfall dev` leaves, so other commands attach to it. */
export interface DevState {
  pid: number;
  databaseUrl: string;
  endpoint: string;
  region: string;
  namePrefix: string;
  buckets: { inbox: string; staging: string };
  queues: Record<QueueKey, string>;
  /** The config `landfall dev` runs with, so other commands can use it without --config. */
  configPath: string | null;
}

export const devStatePath = (home: string) => join(home, 'dev.json');

/** Written by `landfall dev` once its stack is up (LocalStack in stack.ts has these fields). */
export async function writeDevState(
  home: string,
  stack: Pick<DevState, 'databaseUrl' | 'endpoint' | 'region' | 'buckets' | 'queues'>,
  configPath: string | null,
  prefix = DEFAULT_NAME_PREFIX,
): Promise<void> {
  await mkdir(home, { recursive: true });
  const state: DevState = {
    pid: process.pid,
    databaseUrl: stack.databaseUrl,
    endpoint: stack.endpoint,
    region: stack.region,
    namePrefix: prefix,
    buckets: stack.buckets,
    queues: stack.queues,
    configPath,
  };
  await writeFile(devStatePath(home), `${JSON.stringify(state, null, 2)}\n`);
}

export async function removeDevState(home: string): Promise<void> {
  await rm(devStatePath(home), { force: true });
}

/** Whether a process with this id is running (EPERM: it is, as another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
