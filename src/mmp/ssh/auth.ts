import { setTimeout as sleep } from 'node:timers/promises';
import type { AuthContext } from 'ssh2';
import type { Logger } from '../../observability/logger.js';
import type { UserStore } from '../users.js';
import { findAuthorizedKey, readAuthorizedKeys } from './authorized-keys.js';
import type { LoginGuard } from './login-guard.js';

/**
 * Decides SSH authentication requests: passwords against the user store's
 * scrypt hashes, public keys against authorized_keys. Failures are logged
 * with the user name and address (never what was typed), answered late, and
 * counted by the LoginGuard; one address has one credential checked at a time.
 */

/** What the server knows of one connection while it authenticates. */
export interface PendingConnection {
  address: string;
  failures: number;
  /** Set just before the request is accepted. */
  user?: string;
  end(): void;
}

const METHODS = ['publickey', 'password'] as const;
// OpenSSH's client asks for a password three times (NumberOfPasswordPrompts).
const MAX_FAILURES_PER_CONNECTION = 3;

export class Authenticator {
  private readonly turns = new Map<string, Promise<void>>();

  constructor(
    private readonly deps: {
      users: UserStore;
      guard: LoginGuard;
      authorizedKeysPath: string;
      logger: Logger;
      now?: () => number;
    },
  ) {}

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  async handle(ctx: AuthContext, conn: PendingConnection): Promise<void> {
    try {
      switch (ctx.method) {
        case 'password':
          return await this.serial(conn.address, () => this.password(ctx, ctx.password, conn));
        case 'publickey':
          return await this.publicKey(ctx, conn);
        default:
          // 'none' asks which methods exist; keyboard-interactive and hostbased are not offered.
          ctx.reject([...METHODS]);
      }
    } catch (err) {
      this.deps.logger.error({ event: 'auth-error', address: conn.address, err: (err as Error).message }, 'authentication failed unexpectedly');
      ctx.reject([...METHODS]);
    }
  }

  private refuseIfLocked(ctx: AuthContext, conn: PendingConnection): boolean {
    const verdict = this.deps.guard.check(conn.address, this.now());
    if (verdict.allowed) return false;
    this.deps.logger.warn({ event: 'login-refused', user: shortName(ctx.username), address: conn.address, lockedUntil: new Date(verdict.lockedUntil).toISOString() }, 'login refused: too many failures from this address');
    ctx.reject([]);
    conn.end();
    return true;
  }

  private async password(ctx: AuthContext, password: string, conn: PendingConnection): Promise<void> {
    if (this.refuseIfLocked(ctx, conn)) return;
    if (await this.deps.users.verify(ctx.username, password)) {
      this.accepted(ctx, conn, 'password');
      return;
    }
    await this.failed(ctx, conn, 'password');
  }

  private async publicKey(ctx: Extract<AuthContext, { method: 'publickey' }>, conn: PendingConnection): Promise<void> {
    if (this.refuseIfLocked(ctx, conn)) return;
    const { keys, skipped } = await readAuthorizedKeys(this.deps.authorizedKeysPath);
    if (skipped.length > 0) this.deps.logger.warn({ event: 'authorized-keys-skipped', lines: skipped }, 'authorized_keys lines skipped (options or unknown key types are not supported)');
    await this.deps.users.refresh();
    const key = this.deps.users.has(ctx.username) ? findAuthorizedKey(keys, ctx.key.data) : undefined;
    // An unknown key is not a guess: clients offer every key they hold, so it is not counted.
    if (!key) return ctx.reject([...METHODS]);
    // RFC 4252 §7: without a signature the client only asks whether the key would do.
    if (!ctx.signature || !ctx.blob) return ctx.accept();
    const signature = ctx.signature;
    const blob = ctx.blob;
    await this.serial(conn.address, async () => {
      if (key.verify(blob, signature, ctx.hashAlgo) === true) this.accepted(ctx, conn, 'publickey');
      else await this.failed(ctx, conn, 'publickey');
    });
  }

  private accepted(ctx: AuthContext, conn: PendingConnection, method: string): void {
    conn.user = ctx.username;
    this.deps.logger.info({ event: 'login', user: ctx.username, address: conn.address, method }, 'MMP login');
    ctx.accept();
  }

  private async failed(ctx: AuthContext, conn: PendingConnection, method: string): Promise<void> {
    const { delayMs, locked } = this.deps.guard.failed(conn.address, this.now());
    conn.failures++;
    this.deps.logger.warn({ event: 'login-failed', user: shortName(ctx.username), address: conn.address, method }, 'MMP login failed');
    if (locked) this.deps.logger.warn({ event: 'address-locked', address: conn.address, lockedUntil: new Date(this.deps.guard.lockedUntil(conn.address)).toISOString() }, 'too many failed logins: address locked');
    await sleep(delayMs);
    ctx.reject([...METHODS]);
    if (locked || conn.failures >= MAX_FAILURES_PER_CONNECTION) conn.end();
  }

  /** One credential check per address at a time, its failure delay included. */
  private serial(address: string, fn: () => Promise<void>): Promise<void> {
    const previous = this.turns.get(address) ?? Promise.resolve();
    const turn = previous.then(fn, fn);
    const tail = turn.catch(() => undefined);
    this.turns.set(address, tail);
    void tail.then(() => {
      if (this.turns.get(address) === tail) this.turns.delete(address);
    });
    return turn;
  }
}

/** User names are the client's words: kept short in logs. */
function shortName(name: string): string {
  return name.length > 64 ? `${name.slice(0, 64)}...` : name;
}
