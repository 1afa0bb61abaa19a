import { isMainThread, parentPort } from 'node:worker_threads';
import { encodeCsvBlock, type CsvBlockInput, type CsvBlockJob } from '../core/block-encoder.ts';
import { BlockScratch, type EncodedBlock } from '../core/encoded-block.ts';
import { UnreadableFileError, type UnreadableReason } from '../core/read/errors.ts';

/** What the producer sends a block worker: a file's job (once per worker), tasks of it, the end of it. */
export type ToWorker =
  | { type: 'job'; jobId: number; job: CsvBlockJob }
  | { type: 'forget'; jobId: number }
  | { type: 'task'; jobId: number; taskId: number; input: CsvBlockInput }
  /** A block's buffers given back (transferred) once the producer is done with it: written again by the next blocks. */
  | { type: 'recycle'; buffers: ArrayBuffer[] };

/** What a block worker answers a task. */
export type FromWorker =
  | { type: 'result'; taskId: number; block: EncodedBlock }
  | { type: 'error'; taskId: number; error: { name: string; message: string; code?: UnreadableReason; line?: number; field?: string } };

/** The worker thread's side: jobs kept by id, tasks run one at a time in the order they came. */
function serveBlocks(): void {
  const port = parentPort!;
  const jobs = new Map<number, CsvBlockJob>();
  // What blocks are written into, reused from one block (of any file) to the next.
  const scratch = new BlockScratch();
  let queue: Promise<void> = Promise.resolve();
  port.on('message', (message: ToWorker) => {
    if (message.type === 'job') jobs.set(message.jobId, message.job);
    else if (message.type === 'forget') jobs.delete(message.jobId);
    else if (message.type === 'recycle') scratch.giveBack(message.buffers);
    else {
      const job = jobs.get(message.jobId)!;
      queue = queue.then(async () => {
        try {
          const { block, transfer } = await encodeCsvBlock(job, message.input, scratch);
          port.postMessage({ type: 'result', taskId: message.taskId, block } satisfies FromWorker, transfer);
        } catch (error) {
          const e = error as Error & { code?: UnreadableReason; line?: number; field?: string };
          const detail = error instanceof UnreadableFileError ? { code: e.code!, ...(e.line !== undefined ? { line: e.line } : {}), ...(e.field !== undefined ? { field: e.field } : {}) } : {};
          port.postMessage({ type: 'error', taskId: message.taskId, error: { name: e.name ?? 'Error', message: e.message ?? String(error), ...detail } } satisfies FromWorker);
        }
      });
    }
  });
}

if (!isMainThread && parentPort) serveBlocks();
