import { continueFile, produceFile, type ProduceOutcome, type ProducerDeps } from './produce-file.ts';
import type { Invocation } from './ports.ts';
import { parseContinuation } from '../core/progress.ts';
import { parseS3EventMessage } from '../core/s3-event.ts';

/**
 * Produces every file an intake message names: an S3 event notification (one file after the
 * other), or a continuation of a file an earlier invocation stopped in. Throws on what a retry
 * may fix (the message then comes back); an unreadable file is moved aside and counts as done.
 */
export async function processIntakeMessage(deps: ProducerDeps, body: string, invocation?: Invocation): Promise<ProduceOutcome[]> {
  const continuation = parseContinuation(body);
  if (continuation) {
    deps.logger?.info('continuing file', { fileId: continuation.fileId, table: continuation.table, segment: continuation.segment });
    return [await continueFile(deps, continuation, invocation)];
  }
  const outcomes: ProduceOutcome[] = [];
  for (const notified of parseS3EventMessage(body)) {
    deps.logger?.info('producing file', {
      bucket: notified.file.bucket,
      key: notified.file.key,
      versionId: notified.file.versionId,
      etag: notified.file.etag,
      sequencer: notified.sequencer,
      size: notified.size,
    });
    outcomes.push(await produceFile(deps, notified.file, invocation));
  }
  return outcomes;
}
