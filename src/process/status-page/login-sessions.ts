import { createHash, randomBytes } from 'node:crypto';

/**
 * The status page's login sessions: a random token (256 bits, base64url) in
 * an HttpOnly cookie, kept here only as its SHA-256 so that a heap dump or a
 * log line holding the table gives nobody a usable cookie. A session ends at
 * logout, after `idleMs` without a request, or `maxAgeMs` after login,
 * whichever comes first; at most `maxSessions` live at once (the oldest goes).
 * Pure: time comes in as an argument.
 */

export interface LoginSessionPolicy {
  readonly idleMs: number;
  readonly maxAgeMs: number;
  readonly maxSessions: number;
}

export const DEFAULT_LOGIN_SESSION_POLICY: LoginSessionPolicy = {
  idleMs: 60 * 60_000,
  maxAgeMs: 12 * 60 * 60_000,
  maxSessions: 256,
};

interface Session {
  readonly user: string;
  readonly createdAt: number;
  lastSeen: number;
}

export class LoginSessions {
  private readonly sessions = new Map<string, Session>();

  constructor(readonly policy: LoginSessionPolicy = DEFAULT_LOGIN_SESSION_POLICY) {}

  /** A new session for `user`; the token goes into the cookie and nowhere else. */
  create(user: string, now: number): string {
    this.expire(now);
    while (this.sessions.size >= this.policy.maxSessions) {
      const oldest = this.sessions.keys().next().value;
      if (oldest === undefined) break;
      this.sessions.delete(oldest);
    }
    const token = randomBytes(32).toString('base64url');
    this.sessions.set(digest(token), { user, createdAt: now, lastSeen: now });
    return token;
  }

  /** The session's user, or undefined when there is none or it expired; a hit counts as activity. */
  check(token: string | undefined, now: number): string | undefined {
    if (!token) return undefined;
    const key = digest(token);
    const s = this.sessions.get(key);
    if (!s) return undefined;
    if (this.expired(s, now)) {
      this.sessions.delete(key);
      return undefined;
    }
    s.lastSeen = now;
    return s.user;
  }

  end(token: string | undefined): void {
    if (token) this.sessions.delete(digest(token));
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Seconds a new session's cookie lives (its Max-Age). */
  get cookieMaxAgeSeconds(): number {
    return Math.floor(this.policy.maxAgeMs / 1000);
  }

  private expired(s: Session, now: number): boolean {
    return now - s.lastSeen >= this.policy.idleMs || now - s.createdAt >= this.policy.maxAgeMs;
  }

  private expire(now: number): void {
    for (const [key, s] of this.sessions) if (this.expired(s, now)) this.sessions.delete(key);
  }
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
