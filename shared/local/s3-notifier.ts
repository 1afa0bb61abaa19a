import { HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { etagOf, versionIdOf } from '../core/batch.ts';
import { s3EventBodyOf } from '../core/s3-event.ts';

export interface BucketWatcher {
  /** One look at the bucket: notifies every object version (key + ETag) not seen before. */
  poll(): Promise<number>;
  stop(): void;
}

/**
 * Stands in for S3 event notifications where the emulator has none (fauxqs 2.4.1): watches the
 * inbox and sends the same S3 event envelope to the intake queue for each new object under a
 * watched prefix, so any upload tool (`aws s3 cp`, `landfall drop`) triggers the pipeline.
 * Event time is when the watcher first saw the object, so files dropped one after another
 * arrive in that order.
 */
export function watchBucket(options: {
  s3: S3Client;
  bucket: string;
  prefixes: readonly string[];
  region: string;
  intervalMs: number;
  notify: (body: string) => Promise<void>;
  onError?: (error: unknown) => void;
  /** An object not to notify (a file already loaded); asked once per object version. */
  skip?: (key: string, etag: string) => Promise<boolean>;
}): BucketWatcher {
  const seen = new Set<string>();
  let sequence = 0;
  let lastTime = 0;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  let stopped = false;

  const scan = async (): Promise<number> => {
    let sent = 0;
    let token: string | undefined;
    do {
      const page = await options.s3.send(new ListObjectsV2Command({ Bucket: options.bucket, ContinuationToken: token }));
      for (const object of page.Contents ?? []) {
        const key = object.Key!;
        if (!options.prefixes.some((p) => key.startsWith(p))) continue;
        const etag = etagOf(object.ETag);
        const id = `${key}\u0000${etag}`;
        if (seen.has(id)) continue;
        if (await options.skip?.(key, etag)) {
          seen.add(id);
          continue;
        }
        // A listing carries no version id; S3's own notification would, so ask for it.
        const head = await options.s3.send(new HeadObjectCommand({ Bucket: options.bucket, Key: key }));
        lastTime = Math.max(Date.now(), lastTime + 1);
        const body = s3EventBodyOf([{
          bucket: options.bucket,
          key,
          etag,
          versionId: versionIdOf(head.VersionId),
          size: object.Size ?? 0,
          eventTime: new Date(lastTime).toISOString(),
          sequencer: (++sequence).toString(16).toUpperCase().padStart(16, '0'),
          region: options.region,
        }]);
        await options.notify(body);
        seen.add(id);
        sent++;
      }
      token = page.NextContinuationToken;
    } while (token);
    return sent;
  };

  const poll = () => (running ??= scan().finally(() => (running = undefined)));
  const loop = () => {
    if (stopped) return;
    poll()
      .catch((error: unknown) => options.onError?.(error))
      .finally(() => {
        if (!stopped) timer = setTimeout(loop, options.intervalMs);
      });
  };
  loop();
  return {
    poll,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
