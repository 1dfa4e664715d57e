/**
 * Runs asynchronous changes one at a time, in the order they were asked for.
 * A change that reads state, awaits a write and then assigns must not overlap
 * another such change: both would start from the same old state and the last
 * write would silently undo the first (an acknowledged call bridge lost).
 * A failed change does not stop the ones queued behind it.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(change: () => Promise<T>): Promise<T> {
    const result = this.tail.then(change, change);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
