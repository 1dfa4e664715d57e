/**
 * A condition that tests wait for, checked again each time something it
 * depends on changes (`changed()`), never on a timer: resolves as soon as it
 * holds, rejects with `describe()` after `timeoutMs`.
 */
export class Condition {
  private waiters: Array<() => void> = [];

  /** Something changed: every pending wait checks its condition again. */
  changed(): void {
    for (const w of [...this.waiters]) w();
  }

  until(holds: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!holds()) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(describe()));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
      };
      this.waiters.push(check);
      check();
    });
  }
}
