/**
 * Per-address defence against password guessing. Pure: time comes in as an
 * argument, so the rules are tested without waiting.
 *
 * - Every failure from an address within `windowMs` counts; each makes the
 *   answer to that failure slower (`failureDelayMs` times the count). The
 *   server checks one credential per address at a time, delay included, so
 *   parallel connections from one address are slowed as much as serial ones.
 * - At `maxFailures` the address is locked for `lockoutMs`: its connections
 *   are closed before any key exchange. Other addresses are not affected.
 */

export interface LoginPolicy {
  maxFailures: number;
  windowMs: number;
  lockoutMs: number;
  failureDelayMs: number;
  maxFailureDelayMs: number;
}

export const DEFAULT_LOGIN_POLICY: LoginPolicy = {
  maxFailures: 5,
  windowMs: 60_000,
  lockoutMs: 5 * 60_000,
  failureDelayMs: 500,
  maxFailureDelayMs: 3_000,
};

interface AddressState {
  failures: number[];
  lockedUntil: number;
}

export type AttemptVerdict = { allowed: true } | { allowed: false; lockedUntil: number };

export class LoginGuard {
  private readonly addresses = new Map<string, AddressState>();

  constructor(readonly policy: LoginPolicy = DEFAULT_LOGIN_POLICY) {}

  /** Whether a new connection from the address may proceed to authentication. */
  isLocked(address: string, now: number): boolean {
    const state = this.addresses.get(normalizeAddress(address));
    return state !== undefined && state.lockedUntil > now;
  }

  lockedUntil(address: string): number {
    return this.addresses.get(normalizeAddress(address))?.lockedUntil ?? 0;
  }

  /** Before checking a credential: refused while the address is locked. */
  check(address: string, now: number): AttemptVerdict {
    const state = this.addresses.get(normalizeAddress(address));
    if (state && state.lockedUntil > now) return { allowed: false, lockedUntil: state.lockedUntil };
    return { allowed: true };
  }

  /** The credential was wrong (a success resets nothing: a guesser must not reset his count with a second account). Returns how long to wait before answering, and whether the address is now locked. */
  failed(address: string, now: number): { delayMs: number; locked: boolean } {
    const state = this.state(address, now);
    state.failures.push(now);
    const count = state.failures.length;
    let locked = false;
    if (count >= this.policy.maxFailures) {
      state.lockedUntil = Math.max(state.lockedUntil, now + this.policy.lockoutMs);
      locked = true;
    }
    const delayMs = Math.min(this.policy.maxFailureDelayMs, this.policy.failureDelayMs * count);
    return { delayMs, locked };
  }

  private state(address: string, now: number): AddressState {
    const key = normalizeAddress(address);
    let state = this.addresses.get(key);
    if (!state) {
      state = { failures: [], lockedUntil: 0 };
      this.addresses.set(key, state);
    }
    state.failures = state.failures.filter((t) => t > now - this.policy.windowMs);
    this.prune(now);
    return state;
  }

  /** Forget quiet addresses so the table cannot grow without bound. */
  private prune(now: number): void {
    if (this.addresses.size < 1024) return;
    for (const [key, s] of this.addresses) {
      if (s.lockedUntil <= now && s.failures.every((t) => t <= now - this.policy.windowMs)) this.addresses.delete(key);
    }
  }
}

/** `::ffff:127.0.0.5` and `127.0.0.5` are one address. */
export function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
