import type { ManifestBatch } from '../core/batch-message.ts';

/**
 * Sends batch messages while the file is still being read: a partition's messages in chunk
 * order, each once its object is written, one send at a time. The newest released message of
 * each partition is held back, so the last chunk of every partition that had one goes out
 * after the manifest, with the batch count: the consumer registers (and can complete) a file
 * only from such a message, never before its manifest exists. Which messages are held depends
 * only on the chunks, not on the order their uploads finish, so a retry holds the same ones.
 */
export class StreamingSender {
  readonly #written = new Map<number, Map<number, ManifestBatch>>();
  readonly #next = new Map<number, number>();
  readonly #held = new Map<number, ManifestBatch>();
  #chain: Promise<void> = Promise.resolve();
  #failure: { error: unknown } | undefined;
  /** `startChunks`: each partition's first chunk index in this invocation (a resumed read). */
  constructor(
    readonly send: (batches: ManifestBatch[]) => Promise<void>,
    readonly startChunks: readonly number[] = [],
  ) {}

  /** Throws the first failed send, so the read stops instead of cutting batches it cannot announce. */
  written(batch: ManifestBatch): void {
    if (this.#failure) throw this.#failure.error;
    const chunks = this.#written.get(batch.partition) ?? new Map<number, ManifestBatch>();
    this.#written.set(batch.partition, chunks);
    chunks.set(batch.chunk, batch);
    let next = this.#next.get(batch.partition) ?? this.startChunks[batch.partition] ?? 0;
    const released: ManifestBatch[] = [];
    for (; chunks.has(next); next++) {
      released.push(chunks.get(next)!);
      chunks.delete(next);
    }
    this.#next.set(batch.partition, next);
    if (released.length === 0) return;
    const held = this.#held.get(batch.partition);
    const ready = [...(held ? [held] : []), ...released];
    this.#held.set(batch.partition, ready.pop()!);
    this.#enqueue(ready);
  }

  /**
   * Sends the held messages too (without the count): an invocation that stops before the end of
   * the file leaves nothing held, and the next one starts holding afresh.
   */
  release(): void {
    const held = [...this.#held.values()].sort((a, b) => a.partition - b.partition);
    this.#held.clear();
    this.#enqueue(held);
  }

  #enqueue(ready: ManifestBatch[]): void {
    if (ready.length === 0) return;
    // Caught at once (a rejection left until flush() would be unhandled); later sends are skipped.
    this.#chain = this.#chain
      .then(() => (this.#failure ? undefined : this.send(ready)))
      .catch((error: unknown) => {
        this.#failure ??= { error };
      });
  }

  /** Waits for the sends so far; the first failure is thrown. */
  async flush(): Promise<void> {
    await this.#chain;
    if (this.#failure) throw this.#failure.error;
  }

  /** The messages still held, in partition order: sent after the manifest, with the count. */
  get held(): ManifestBatch[] {
    return [...this.#held.values()].sort((a, b) => a.partition - b.partition);
  }
}
