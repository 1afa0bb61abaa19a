import { type ChildProcess, fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';

const RUNTIME = join(dirname(fileURLToPath(import.meta.url)), 'lambda-runtime.mjs');

export interface FunctionSpec {
  /** `producer`, `consumer`, `replay`. */
  kind: string;
  functionName: string;
  /** The bundled file in the cloud assembly (asset folder + handler file). */
  bundle: string;
  exportName: string;
  environment: Record<string, string>;
  memoryMiB: number;
  timeoutSeconds: number;
}

export interface LogLine {
  function: string;
  stream: 'stdout' | 'stderr';
  text: string;
}

interface Container {
  child: ChildProcess;
  busy: boolean;
  ready: Promise<void>;
}

export interface FunctionPool {
  /**
   * An SQS event from an event source mapping, or another payload (the deploy step's
   * `Lambda:Invoke`); `traceHeader` is the invocation's X-Ray trace header (`_X_AMZN_TRACE_ID`).
   */
  invoke(event: SQSEvent | Record<string, unknown>, options?: { traceHeader?: string }): Promise<SQSBatchResponse | void>;
  containers(): number;
  /** The most containers alive at once. */
  peakContainers(): number;
  stop(): Promise<void>;
}

/** The most containers each function had alive at once, summed over every pool of it (the stack's and the checks' own). */
const peaks = new Map<string, Map<FunctionPool, number>>();
/** Forgets the pools counted so far (each mode of the rehearsal counts its own). */
export function resetContainerPeaks(): void {
  peaks.clear();
}
export function peakContainersOf(kind: string): number {
  return [...(peaks.get(kind)?.values() ?? [])].reduce((a, b) => a + b, 0);
}

/**
 * Containers of one function: each a Node 24 process running the bundled asset with the
 * function's environment, heap sized to its memory, one invocation at a time, killed at its
 * timeout (the next invocation gets a fresh container, a cold start).
 */
export function functionPool(spec: FunctionSpec, log: (line: LogLine) => void): FunctionPool {
  const containers: Container[] = [];
  let next = 0;
  let peak = 0;

  const start = (): Container => {
    const child = fork(RUNTIME, [spec.bundle, spec.exportName, spec.functionName, String(spec.memoryMiB), String(spec.timeoutSeconds)], {
      env: spec.environment,
      execPath: process.execPath,
      execArgv: [`--max-old-space-size=${spec.memoryMiB}`],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    for (const stream of ['stdout', 'stderr'] as const) {
      let partial = '';
      child[stream]!.on('data', (chunk: Buffer) => {
        const lines = (partial + chunk.toString('utf8')).split('\n');
        partial = lines.pop() ?? '';
        for (const text of lines) if (text.trim()) log({ function: spec.kind, stream, text });
      });
    }
    const ready = new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`${spec.kind} container exited with ${code} during init`)));
    });
    ready.catch(() => {});
    const container: Container = { child, busy: false, ready };
    child.on('exit', () => {
      const i = containers.indexOf(container);
      if (i >= 0) containers.splice(i, 1);
    });
    containers.push(container);
    peak = Math.max(peak, containers.length);
    if (!peaks.has(spec.kind)) peaks.set(spec.kind, new Map());
    peaks.get(spec.kind)!.set(pool, peak);
    return container;
  };

  const pool: FunctionPool = {
    containers: () => containers.length,
    peakContainers: () => peak,
    async invoke(event, options = {}) {
      const container = containers.find((c) => !c.busy) ?? start();
      container.busy = true;
      try {
        await container.ready;
        const id = ++next;
        return await new Promise<SQSBatchResponse | void>((resolve, reject) => {
          const timer = setTimeout(() => {
            container.child.kill('SIGKILL');
            reject(new Error(`${spec.kind}: Task timed out after ${spec.timeoutSeconds} seconds`));
          }, spec.timeoutSeconds * 1000);
          const onMessage = (message: { id?: number; ok?: boolean; result?: SQSBatchResponse | null; error?: string }) => {
            if (message.id !== id) return;
            clearTimeout(timer);
            container.child.off('message', onMessage);
            if (message.ok) resolve(message.result ?? undefined);
            else reject(new Error(message.error));
          };
          container.child.on('message', onMessage);
          container.child.send({ id, event, ...(options.traceHeader ? { traceHeader: options.traceHeader } : {}) });
        });
      } finally {
        container.busy = false;
      }
    },
    async stop() {
      await Promise.all(
        containers.splice(0).map(
          (c) =>
            new Promise<void>((resolve) => {
              c.child.once('exit', () => resolve());
              c.child.kill('SIGTERM');
            }),
        ),
      );
    },
  };
  return pool;
}
