import type { Logger } from '@aws-lambda-powertools/logger';

/**
 * A container's one-time set-up (settings, clients, connection), run on the first record that
 * needs it. A failure is logged as one structured line for each record it fails: the handler's
 * per-record logging never sees it, and Powertools' partial processor only turns it into a
 * `batchItemFailures` entry, so without this line an operator would see nothing (issue 11,
 * finding 2). Records processed concurrently wait on the same set-up, and each that it fails
 * logs its line. A failed set-up is not kept; the next record tries again.
 *
 * @example const ports = coldStart(logger, () => batchPortsFromEnv(process.env, 'consumer', clients)); await ports()
 */
export function coldStart<T>(logger: Logger, init: () => T | Promise<T>): () => Promise<T> {
  let ready: Promise<T> | undefined;
  return async () => {
    const attempt = (ready ??= (async () => init())());
    try {
      return await attempt;
    } catch (error) {
      if (ready === attempt) ready = undefined;
      logger.error('cold start failed; the records come again', {
        error: (error as Error).message ?? String(error),
        errorName: (error as Error).name,
      });
      throw error;
    }
  };
}
