import type { IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { LoginGuard, normalizeAddress } from '../../mmp/ssh/login-guard.js';
import type { UserStore } from '../../mmp/users.js';
import type { Logger } from '../../observability/logger.js';
import { cookie } from './http-form.js';
import { LoginSessions } from './login-sessions.js';

/**
 * The status page's login: the MMP's admin accounts (the same scrypt store
 * as SSH), a failure throttle per address as the SSH server has (a slower
 * answer for each failure, a lockout after five in a minute; one credential
 * checked per address at a time), and a session cookie that is HttpOnly
 * (no script reads it) and SameSite=Strict (no other site's page sends it).
 * Logs carry the user name and address, never a password or a token.
 */

export const SESSION_COOKIE = 'xmpp_status_session';

export type LoginOutcome =
  | { readonly ok: true; readonly user: string; readonly setCookie: string }
  | { readonly ok: false; readonly status: 401 | 429; readonly message: string; readonly retryAfterSeconds?: number };

export interface StatusLoginOptions {
  readonly users: UserStore;
  readonly log: Logger;
  readonly guard?: LoginGuard;
  readonly sessions?: LoginSessions;
  readonly now?: () => number;
}

export const WRONG_LOGIN = 'Wrong user name or password.';

export class StatusLogin {
  readonly guard: LoginGuard;
  readonly sessions: LoginSessions;
  private readonly turns = new Map<string, Promise<unknown>>();

  constructor(private readonly options: StatusLoginOptions) {
    this.guard = options.guard ?? new LoginGuard();
    this.sessions = options.sessions ?? new LoginSessions();
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /** The logged-in user of this request, or undefined. */
  user(req: IncomingMessage): string | undefined {
    return this.userOf(tokenOf(req));
  }

  /** The user of a session token (as tokenOf read it), while the session lasts. */
  userOf(token: string | undefined): string | undefined {
    return this.sessions.check(token, this.now());
  }

  /** Checks a user name and password from `address`; on success a new session and its Set-Cookie value. */
  login(address: string, user: string, password: string): Promise<LoginOutcome> {
    const key = normalizeAddress(address);
    const previous = this.turns.get(key) ?? Promise.resolve();
    const turn = previous.then(
      () => this.check(key, user, password),
      () => this.check(key, user, password),
    );
    const tail = turn.catch(() => undefined);
    this.turns.set(key, tail);
    void tail.then(() => {
      if (this.turns.get(key) === tail) this.turns.delete(key);
    });
    return turn;
  }

  /** Ends the request's session (if any); the Set-Cookie value that clears the cookie. */
  logout(req: IncomingMessage): string {
    const token = tokenOf(req);
    const user = this.sessions.check(token, this.now());
    this.sessions.end(token);
    if (user) this.options.log.info({ event: 'status_logout', user, address: normalizeAddress(req.socket.remoteAddress ?? '') }, 'status page logout');
    return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
  }

  private async check(address: string, user: string, password: string): Promise<LoginOutcome> {
    const log = this.options.log;
    const verdict = this.guard.check(address, this.now());
    if (!verdict.allowed) {
      const retryAfterSeconds = Math.max(1, Math.ceil((verdict.lockedUntil - this.now()) / 1000));
      log.warn({ event: 'status_login_refused', user: shortName(user), address, lockedUntil: new Date(verdict.lockedUntil).toISOString() }, 'status page login refused: too many failures from this address');
      return { ok: false, status: 429, message: `Too many failed logins from this address; try again in ${Math.ceil(retryAfterSeconds / 60)} min.`, retryAfterSeconds };
    }
    if (user !== '' && password !== '' && (await this.options.users.verify(user, password))) {
      const token = this.sessions.create(user, this.now());
      log.info({ event: 'status_login', user, address }, 'status page login');
      return { ok: true, user, setCookie: `${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${this.sessions.cookieMaxAgeSeconds}` };
    }
    const { delayMs, locked } = this.guard.failed(address, this.now());
    log.warn({ event: 'status_login_failed', user: shortName(user), address }, 'status page login failed');
    if (locked) log.warn({ event: 'address-locked', address, lockedUntil: new Date(this.guard.lockedUntil(address)).toISOString() }, 'too many failed logins: address locked');
    await sleep(delayMs);
    return { ok: false, status: 401, message: WRONG_LOGIN };
  }
}

/** The session cookie's value, if the request has one. */
export function tokenOf(req: IncomingMessage): string | undefined {
  return cookie(req, SESSION_COOKIE);
}

function shortName(name: string): string {
  return name.length > 64 ? `${name.slice(0, 64)}...` : name;
}
