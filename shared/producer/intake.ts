import { produceFile, type ProduceOutcome, type ProducerDeps } from './produce-file.ts';
import { parseS3EventMessage } from '../core/s3-event.ts';

/**
 * Produces every file an intake message (an S3 event notification) names, one after the
 * other. Throws on what a retry may fix (the message then comes back); an unreadable file is
 * moved aside and counts as done.
 */
export async function processIntakeMessage(deps: ProducerDeps, body: string): Promise<ProduceOutcome[]> {
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
    outcomes.push(await produceFile(deps, notified.file));
  }
  return outcomes;
}
