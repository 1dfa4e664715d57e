import type { Logger } from './logger.js';

/**
 * Warnings about a flood, as one line per key (an address, mostly) per
 * interval with a count, never one line per event: a flood is thousands of
 * events a second, and a line each would carry it from the socket to the
 * disk, the log shipping and the operator reading it.
 *
 * The first event from a quiet key is logged at once, so a flood shows
 * without delay; the ones after it are counted, and when the interval ends
 * one line per key gives the count. A key with no event for a whole
 * interval is quiet again. At most `maxKeys` keys are named per interval;
 * a flood from more is summed in one extra line, so the lines per interval
 * stay bounded however many take part.
 */

/** A line's fields and message. */
export type WarningLine = readonly [fields: Record<string, unknown>, message: string];

export interface CountedWarningsOptions<T> {
  log: Logger;
  intervalMs: number;
  maxKeys?: number;
  keyOf(item: T): string;
  /** The line for `item`: `count` events; `intervalMs` is set on the interval's summary, absent on the first line. */
  line(item: T, count: number, intervalMs?: number): WarningLine;
  /** The summary of the keys past `maxKeys`. */
  others(count: number, intervalMs: number): WarningLine;
}

interface Counted<T> {
  item: T;
  /** Events since the last line for this key. */
  count: number;
}

export class CountedWarnings<T> {
  private counted = new Map<string, Counted<T>>();
  private others = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly maxKeys: number;

  constructor(private readonly options: CountedWarningsOptions<T>) {
    this.maxKeys = options.maxKeys ?? 100;
  }

  record(item: T): void {
    const key = this.options.keyOf(item);
    const counted = this.counted.get(key);
    if (counted) {
      counted.count++;
      return;
    }
    if (this.counted.size >= this.maxKeys) {
      this.others++;
    } else {
      this.counted.set(key, { item, count: 0 });
      this.warn(this.options.line(item, 1));
    }
    this.schedule();
  }

  /** Writes what is still counted and stops the timer (the listener is stopping). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.report();
    this.counted.clear();
  }

  private warn([fields, message]: WarningLine): void {
    this.options.log.warn(fields, message);
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.endInterval(), this.options.intervalMs);
    // A quiet process must be free to exit with a report still pending.
    this.timer.unref();
  }

  private endInterval(): void {
    this.timer = undefined;
    const active = this.report();
    // Keys still flooding stay counted, so a sustained flood keeps to one line per interval.
    this.counted = new Map(active.map((c) => [this.options.keyOf(c.item), { item: c.item, count: 0 }]));
    if (this.counted.size > 0) this.schedule();
  }

  /** Logs the counts of this interval; returns the keys that had any. */
  private report(): Array<Counted<T>> {
    const { intervalMs } = this.options;
    const active = [...this.counted.values()].filter((c) => c.count > 0);
    for (const c of active) this.warn(this.options.line(c.item, c.count, intervalMs));
    if (this.others > 0) {
      this.warn(this.options.others(this.others, intervalMs));
      this.others = 0;
    }
    return active;
  }
}
