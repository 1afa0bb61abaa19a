import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { HeapInfo } from 'node:v8';
import { Worker } from 'node:worker_threads';
import type { CsvBlockInput, CsvBlockJob } from '../core/block-encoder.ts';
import { buffersOf, type EncodedBlock } from '../core/encoded-block.ts';
import { UnreadableFileError } from '../core/read/errors.ts';
import { BLOCK_WORKER_BUNDLE } from './block-worker-bundle.ts';
import type { FromWorker, ToWorker } from './block-worker.ts';

/**
 * Heap limits of a block worker: a block is about a megabyte of text, its strings die young, and
 * what it hands back lives outside the heap (transferred buffers). Kept small: the function's
 * memory is for the main thread's buffers.
 */
const WORKER_LIMITS = { maxOldGenerationSizeMb: 48, maxYoungGenerationSizeMb: 12 };

/**
 * Where the worker threads' code is. Bundled (the Lambda function, the benchmark's child): the
 * small bundle of `block-worker.ts` the build writes beside the bundle that starts them. From
 * the TypeScript sources (tests, `landfall dev`): `block-worker.ts` itself, through tsx as
 * bin/landfall.js runs the CLI. Null when a bundle was built without it (then no workers).
 */
export function blockWorkerScript(): URL | null {
  const self = new URL(import.meta.url);
  if (self.pathname.endsWith('.ts')) return new URL('./block-worker.ts', self);
  const bundled = new URL(`./${BLOCK_WORKER_BUNDLE.file}`, self);
  return existsSync(fileURLToPath(bundled)) ? bundled : null;
}

function spawnWorker(script: URL): Worker {
  const options = { resourceLimits: WORKER_LIMITS };
  if (!script.pathname.endsWith('.ts')) return new Worker(script, options);
  const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(script.href)}); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}

interface Pending {
  resolve: (block: EncodedBlock) => void;
  reject: (error: Error) => void;
  worker: BlockWorker;
}

interface BlockWorker {
  thread: Worker;
  /** Tasks sent and not answered. */
  load: number;
  jobs: Set<number>;
}

/** An error a worker met, as the main thread throws it (an unreadable file keeps its code, line and field). */
function errorOf(error: Extract<FromWorker, { type: 'error' }>['error']): Error {
  if (error.code) return new UnreadableFileError(error.code, error.message, { ...(error.line !== undefined ? { line: error.line } : {}), ...(error.field !== undefined ? { field: error.field } : {}) });
  return Object.assign(new Error(error.message), { name: error.name });
}

/**
 * Worker threads that read, partition and encode blocks of delimited text files
 * (`encodeCsvBlock`), shared by the files a process produces. A task goes to the worker with the
 * fewest unanswered ones; a worker that dies fails its tasks (the file is retried) and is
 * replaced by the next task. Threads are unref'd: they never keep a process alive.
 */
export class BlockWorkers {
  readonly #workers: BlockWorker[] = [];
  readonly #pending = new Map<number, Pending>();
  readonly #jobs = new Map<number, CsvBlockJob>();
  /** The worker that wrote each block not given back yet. */
  readonly #writers = new WeakMap<EncodedBlock, BlockWorker>();
  #nextTask = 0;
  #nextJob = 0;
  /** Blocks read by the workers, and of those the ones the producer took (the others it read again itself). */
  readonly stats = { tasks: 0, taken: 0, recycled: 0 };

  constructor(
    readonly size: number,
    readonly script: URL,
  ) {}

  /** A file's job: sent to a worker with its first task there. Forget it when the file is done. */
  addJob(job: CsvBlockJob): number {
    const jobId = ++this.#nextJob;
    this.#jobs.set(jobId, job);
    return jobId;
  }

  forgetJob(jobId: number): void {
    this.#jobs.delete(jobId);
    for (const worker of this.#workers) {
      if (!worker.jobs.delete(jobId)) continue;
      worker.thread.postMessage({ type: 'forget', jobId } satisfies ToWorker);
    }
  }

  /** Reads, partitions and encodes one block in a worker. */
  run(jobId: number, input: CsvBlockInput): Promise<EncodedBlock> {
    const worker = this.#leastLoaded();
    const job = this.#jobs.get(jobId);
    if (!job) return Promise.reject(new Error(`block job ${jobId} is not known`));
    if (!worker.jobs.has(jobId)) {
      worker.jobs.add(jobId);
      worker.thread.postMessage({ type: 'job', jobId, job } satisfies ToWorker);
    }
    const taskId = ++this.#nextTask;
    worker.load++;
    this.stats.tasks++;
    return new Promise<EncodedBlock>((resolve, reject) => {
      this.#pending.set(taskId, { resolve, reject, worker });
      worker.thread.postMessage({ type: 'task', jobId, taskId, input } satisfies ToWorker);
    });
  }

  /**
   * Gives a block's buffers back to the worker that wrote them, for its next blocks: call it once
   * nothing reads the block any more (its arrays are detached here). Buffers of the main thread's
   * heap that are handed back do not count towards its next garbage collection; dropped, each
   * block's few megabytes would run a full collection every few blocks.
   */
  recycle(block: EncodedBlock): void {
    const worker = this.#writers.get(block);
    if (!worker) return;
    this.#writers.delete(block);
    // A worker that died since takes nothing back: the buffers are left to the collector.
    if (!this.#workers.includes(worker)) return;
    const buffers = buffersOf(block);
    worker.thread.postMessage({ type: 'recycle', buffers } satisfies ToWorker, buffers);
    this.stats.recycled++;
  }

  #leastLoaded(): BlockWorker {
    if (this.#workers.length < this.size) return this.#start();
    return this.#workers.reduce((a, b) => (b.load < a.load ? b : a));
  }

  #start(): BlockWorker {
    const worker: BlockWorker = { thread: spawnWorker(this.script), load: 0, jobs: new Set() };
    worker.thread.unref();
    worker.thread.on('message', (message: FromWorker) => {
      const pending = this.#pending.get(message.taskId);
      if (!pending) return;
      this.#pending.delete(message.taskId);
      worker.load--;
      if (message.type === 'result') {
        this.#writers.set(message.block, worker);
        pending.resolve(message.block);
      } else pending.reject(errorOf(message.error));
    });
    const fail = (error: Error) => {
      const index = this.#workers.indexOf(worker);
      if (index >= 0) this.#workers.splice(index, 1);
      for (const [taskId, pending] of this.#pending) {
        if (pending.worker !== worker) continue;
        this.#pending.delete(taskId);
        pending.reject(new Error(`a block worker of the producer failed: ${error.message}`, { cause: error }));
      }
    };
    worker.thread.on('error', fail);
    worker.thread.on('exit', (code) => fail(new Error(`exited with code ${code}`)));
    this.#workers.push(worker);
    return worker;
  }

  /** Each running worker's V8 heap (what its isolate holds beside the main thread's: `bench:producer`'s memory trace). */
  async heapStatistics(): Promise<HeapInfo[]> {
    // A worker still starting (or gone) has none to give.
    const stats = await Promise.all(this.#workers.map((w) => w.thread.getHeapStatistics().catch(() => null)));
    return stats.filter((s) => s !== null);
  }

  /** Stops the threads (tests; a process that ends does not need it). */
  async close(): Promise<void> {
    const workers = this.#workers.splice(0);
    await Promise.all(workers.map((w) => w.thread.terminate()));
  }
}

const shared = new Map<number, BlockWorkers>();

/** The process's block workers of that size, started as they are first needed; none when their code is not there. */
export function sharedBlockWorkers(size: number): BlockWorkers | undefined {
  const script = blockWorkerScript();
  if (!script || size <= 0) return undefined;
  let workers = shared.get(size);
  if (!workers) shared.set(size, (workers = new BlockWorkers(size, script)));
  return workers;
}

/** Lambda gives a function one vCPU per 1,769 MB of memory (up to 6 at 10,240 MB). */
export const MIB_PER_VCPU = 1769;

/**
 * How many block workers a producer with `memoryMiB` of memory runs: none below about 1.5 vCPUs
 * (one thread does it all: a worker would only share its core), else one per vCPU it is given,
 * at most the cores it sees.
 *
 * @example producerWorkerCount(3008, 2) // 2
 */
export function producerWorkerCount(memoryMiB: number, cores: number): number {
  const vcpus = memoryMiB / MIB_PER_VCPU;
  return vcpus < 1.5 ? 0 : Math.max(0, Math.min(Math.round(vcpus), cores));
}
