/** Runs upload tasks a few at a time; the first failure is rethrown. */
export class TaskPool {
  readonly #limit: number;
  readonly #running = new Set<Promise<void>>();
  #failure: { error: unknown } | undefined;
  constructor(limit: number) {
    this.#limit = Math.max(1, limit);
  }
  async submit(task: () => Promise<void>): Promise<void> {
    while (this.#running.size >= this.#limit) await Promise.race(this.#running);
    if (this.#failure) throw this.#failure.error;
    const running: Promise<void> = task()
      .catch((error: unknown) => {
        this.#failure ??= { error };
      })
      .finally(() => this.#running.delete(running));
    this.#running.add(running);
  }
  /** Waits for the running tasks, ignoring their failures (before cleaning up after an error). */
  async settle(): Promise<void> {
    await Promise.allSettled(this.#running);
  }
  async drain(): Promise<void> {
    await Promise.all(this.#running);
    if (this.#failure) throw this.#failure.error;
  }
}
