/**
 * flattenBatches: one item per async step over an async generator of arrays.
 */
/**
 * An async generator of the items of an async generator of arrays: one item per step, but
 * far cheaper per step than an `async function*` that yields them (no generator machinery,
 * one settled promise per item). Behaves as such a generator would: calls are served in
 * order, return() and throw() close the source (so that a file is closed on `break`), an
 * error of the source is passed on after the items before it, then the iterator is done.
 * @internal
 */
export function flattenBatches<T>(source: AsyncGenerator<T[], void, undefined>): AsyncGenerator<T, void, undefined> {
  return new Flattened(source);
}

class Flattened<T> implements AsyncGenerator<T, void, undefined> {
  private batch: T[] = [];
  private i = 0;
  private done = false;
  /** The last queued operation that awaits the source, while it has not settled. */
  private busy: Promise<unknown> | undefined;

  constructor(private readonly source: AsyncGenerator<T[], void, undefined>) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T, void>> {
    if (this.busy === undefined) {
      if (this.i < this.batch.length) return Promise.resolve({ value: this.batch[this.i++]!, done: false });
      if (this.done) return Promise.resolve({ value: undefined, done: true });
    }
    return this.queue(() => this.fill());
  }

  return(value?: void | PromiseLike<void>): Promise<IteratorResult<T, void>> {
    return this.queue(async () => {
      await this.close();
      return { value: (await value) as void, done: true };
    });
  }

  throw(error?: unknown): Promise<IteratorResult<T, void>> {
    return this.queue(async () => {
      await this.close();
      throw error;
    });
  }

  private async fill(): Promise<IteratorResult<T, void>> {
    while (this.i >= this.batch.length) {
      if (this.done) return { value: undefined, done: true };
      let r: IteratorResult<T[], void>;
      try {
        r = await this.source.next();
      } catch (e) {
        this.finish();
        throw e;
      }
      if (r.done) {
        this.finish();
        return { value: undefined, done: true };
      }
      this.batch = r.value;
      this.i = 0;
    }
    return { value: this.batch[this.i++]!, done: false };
  }

  private async close(): Promise<void> {
    if (this.done) return;
    this.finish();
    await this.source.return(undefined);
  }

  private finish(): void {
    this.done = true;
    this.batch = [];
    this.i = 0;
  }

  /** Runs `op` once every operation queued before it has settled. */
  private queue<R>(op: () => Promise<R>): Promise<R> {
    const run = this.busy === undefined ? op() : this.busy.then(op, op);
    this.busy = run;
    const settled = () => {
      if (this.busy === run) this.busy = undefined;
    };
    run.then(settled, settled);
    return run;
  }
}
