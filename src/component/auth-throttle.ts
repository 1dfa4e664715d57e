/**
 * Slows down repeated handshake failures from one address: each failure in
 * the window doubles the delay before the `<not-authorized/>` answer, up to a
 * cap. A guessing client then waits instead of spinning our CPU; successes
 * from the address clear its record. Time is passed in, so this is pure.
 */
export interface AuthThrottleOptions {
  baseDelayMs: number;
  maxDelayMs: number;
  /** Failures older than this are forgotten. */
  windowMs: number;
  /** Addresses remembered at most (oldest forgotten first). */
  maxAddresses: number;
}

export const DEFAULT_AUTH_THROTTLE: AuthThrottleOptions = {
  baseDelayMs: 100,
  maxDelayMs: 5000,
  windowMs: 60_000,
  maxAddresses: 10_000,
};

interface Record {
  failures: number;
  last: number;
}

/** Handshakes checked, by result: every success and failure passes through the throttle. */
export interface HandshakeCounts {
  accepted: number;
  refused: number;
}

export class AuthThrottle {
  private readonly records = new Map<string, Record>();
  /** Since the listener started; read by the metrics endpoint. */
  readonly handshakes: HandshakeCounts = { accepted: 0, refused: 0 };

  constructor(private readonly options: AuthThrottleOptions = DEFAULT_AUTH_THROTTLE) {}

  /** Records a failure and returns how long to wait before answering it. */
  failure(address: string, now: number): number {
    this.handshakes.refused++;
    const previous = this.current(address, now);
    const failures = (previous?.failures ?? 0) + 1;
    this.records.delete(address);
    this.records.set(address, { failures, last: now });
    if (this.records.size > this.options.maxAddresses) {
      const oldest = this.records.keys().next().value as string;
      this.records.delete(oldest);
    }
    return this.delayAfter(failures);
  }

  /**
   * How long a new handshake from `address` waits before it is even checked:
   * nothing for an address without recent failures, else the delay its last
   * failure earned. Checking first and delaying only the answer would let a
   * guesser open connection after connection, each checked at once; the
   * pre-auth caps close the oldest waiting connection, so a guess that is
   * closed while it waits is never checked at all.
   */
  delayBeforeCheck(address: string, now: number): number {
    const failures = this.failures(address, now);
    return failures === 0 ? 0 : this.delayAfter(failures);
  }

  success(address: string): void {
    this.handshakes.accepted++;
    this.records.delete(address);
  }

  failures(address: string, now: number): number {
    return this.current(address, now)?.failures ?? 0;
  }

  private delayAfter(failures: number): number {
    return Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** (failures - 1));
  }

  private current(address: string, now: number): Record | undefined {
    const r = this.records.get(address);
    if (r && now - r.last > this.options.windowMs) {
      this.records.delete(address);
      return undefined;
    }
    return r;
  }
}
