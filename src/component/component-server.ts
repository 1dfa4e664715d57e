import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../observability/logger.js';
import type { Router } from '../router/router.js';
import { StreamError } from '../xmpp/errors.js';
import { normalizeAddress } from '../xmpp/xmpp-stream.js';
import { AuthThrottle, DEFAULT_AUTH_THROTTLE, type AuthThrottleOptions, type HandshakeCounts } from './auth-throttle.js';
import { ComponentSession, DEFAULT_SESSION_OPTIONS, type ComponentSessionInfo, type ComponentSessionOptions } from './component-session.js';
import { EvictionLog } from './eviction-log.js';
import { DEFAULT_PREAUTH_LIMITS, PreauthQueue, type PreauthLimit, type PreauthLimits } from './preauth-queue.js';

/**
 * The XEP-0114 listeners (5222 and 5223 by default, on every listening
 * interface) and the sessions they accepted.
 */

export interface Binding {
  host: string;
  port: number;
}

export interface ComponentServerContext {
  domain(): string;
  secretFor(name: string): string | undefined;
  router: Router;
  log: Logger;
  now?: () => number;
  options?: Partial<ComponentSessionOptions>;
  throttle?: Partial<AuthThrottleOptions>;
  /** Caps on connections not yet authenticated (see PreauthQueue). */
  preauth?: Partial<PreauthLimits>;
}

export class ListenError extends Error {
  constructor(
    readonly binding: Binding,
    readonly code: string,
  ) {
    super(`cannot listen on ${formatBinding(binding)}: ${describeListenError(code)}`);
    this.name = 'ListenError';
  }
}

interface Listener {
  /** As asked for: port 0 stays 0, so that asking again matches. */
  requested: Binding;
  bound: Binding;
  server: Server;
}

export class ComponentServer {
  private listeners: Listener[] = [];
  /** Listeners closed by shutdown(), until their last connection ends (stop() waits for them). */
  private retired: Promise<void>[] = [];
  private readonly sessions = new Set<ComponentSession>();
  /** Told when the last session ended, while shutdown() waits for it. */
  private lastEnded: (() => void) | undefined;
  private readonly throttle: AuthThrottle;
  private readonly options: ComponentSessionOptions;
  /** Sessions from accept until their handshake succeeds or they end. */
  private readonly preauth: PreauthQueue<ComponentSession>;
  private readonly evictions: EvictionLog;

  constructor(private readonly ctx: ComponentServerContext) {
    this.options = { ...DEFAULT_SESSION_OPTIONS, ...ctx.options };
    this.throttle = new AuthThrottle({ ...DEFAULT_AUTH_THROTTLE, ...ctx.throttle });
    const limits = { ...DEFAULT_PREAUTH_LIMITS, ...ctx.preauth };
    this.preauth = new PreauthQueue(limits);
    this.evictions = new EvictionLog(ctx.log, limits.logIntervalMs);
  }

  get listening(): boolean {
    return this.listeners.length > 0;
  }

  /** The addresses actually bound (ports resolved when 0 was asked for). */
  get bindings(): readonly Binding[] {
    return this.listeners.map((l) => l.bound);
  }

  /**
   * Listens on exactly `bindings`: opens the missing ones first, and only
   * when all opened closes those no longer wanted, so a failure changes
   * nothing. Sessions stay up: a closed listener does not close them.
   */
  async listen(bindings: Binding[]): Promise<void> {
    const key = (b: Binding) => `${b.host}|${b.port}`;
    const wanted = new Set(bindings.map(key));
    const kept = this.listeners.filter((l) => wanted.has(key(l.requested)));
    const have = new Set(kept.map((l) => key(l.requested)));
    const opened: Listener[] = [];
    try {
      for (const b of bindings) if (!have.has(key(b))) opened.push(await this.open(b));
    } catch (err) {
      await Promise.all(opened.map((l) => closeServer(l.server)));
      throw err;
    }
    const dropped = this.listeners.filter((l) => !wanted.has(key(l.requested)));
    this.listeners = [...kept, ...opened];
    // Not awaited: close() waits for the connections it accepted, which stay up.
    for (const l of dropped) l.server.close();
    if (opened.length || dropped.length) {
      this.ctx.log.info({ event: 'listening', bindings: this.bindings.map(formatBinding) }, 'component ports open');
    }
  }

  /** Closes the listeners and ends every session with `error` (system-shutdown by default). */
  async stop(error = new StreamError('system-shutdown', 'the XMPP server is shutting down')): Promise<void> {
    const listeners = this.listeners;
    this.listeners = [];
    this.endAll(error);
    this.evictions.stop();
    const retired = this.retired.splice(0);
    await Promise.all([...listeners.map((l) => closeServer(l.server)), ...retired]);
  }

  /**
   * SIGTERM: no new connections; every session is told <system-shutdown/>
   * and its last stanzas are still routed (ComponentSession.shutdown).
   * Resolves once all sessions ended, or after `graceMs`, with how many
   * were still open.
   */
  async shutdown(graceMs: number): Promise<number> {
    const listeners = this.listeners;
    this.listeners = [];
    // server.close() calls back only once its connections are gone, which stop() waits for.
    this.retired.push(...listeners.map((l) => closeServer(l.server)));
    const error = new StreamError('system-shutdown', 'this server is shutting down; connect to another');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.lastEnded?.(), graceMs);
      this.lastEnded = () => {
        clearTimeout(timer);
        this.lastEnded = undefined;
        resolve();
      };
      for (const s of [...this.sessions]) s.shutdown(error, graceMs);
      if (this.sessions.size === 0) this.lastEnded();
    });
    return this.sessions.size;
  }

  /** Ends every session, authenticated or not, with `error`. */
  endAll(error: StreamError): void {
    for (const s of [...this.sessions]) s.end(error);
  }

  private async open(b: Binding): Promise<Listener> {
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(new ListenError(b, err.code ?? err.message)));
      server.listen({ host: b.host, port: b.port, exclusive: true }, () => resolve());
    });
    server.on('error', (err) => this.ctx.log.error({ event: 'listener_error', err: err.message }, 'component listener error'));
    const addr = server.address();
    return { requested: b, bound: { host: b.host, port: typeof addr === 'object' && addr ? addr.port : b.port }, server };
  }

  /** Ends the sessions of one call bridge (deleted, or its secret changed). */
  endCallbridge(name: string, error: StreamError): number {
    let n = 0;
    for (const s of this.sessions) {
      if (s.callbridge === name.toLowerCase()) {
        s.end(error);
        n++;
      }
    }
    return n;
  }

  /** Handshakes checked since the server was made, by result. */
  get handshakes(): Readonly<HandshakeCounts> {
    return this.throttle.handshakes;
  }

  /** Authenticated sessions, by component address. */
  online(): ComponentSessionInfo[] {
    return [...this.sessions].filter((s) => s.isOnline).map((s) => s.info());
  }

  private accept(socket: Socket): void {
    const address = normalizeAddress(socket.remoteAddress ?? '');
    const session = new ComponentSession(socket, {
      domain: this.ctx.domain,
      secretFor: this.ctx.secretFor,
      router: this.ctx.router,
      throttle: this.throttle,
      log: this.ctx.log,
      now: this.ctx.now ?? Date.now,
      options: this.options,
      authenticated: (s) => this.preauth.remove(s),
      ended: (s) => {
        this.sessions.delete(s);
        this.preauth.remove(s);
        if (this.sessions.size === 0) this.lastEnded?.();
      },
    });
    this.sessions.add(session);
    // A flood of connections that never authenticate must neither exhaust
    // the node nor keep a call bridge out: past a cap, the oldest waiting
    // connection goes, not the new one (PreauthQueue says why).
    for (const e of this.preauth.add(address, session)) {
      this.evictions.record(e.address, e.limit);
      e.item.end(EVICTED[e.limit]);
    }
  }
}

/**
 * RFC 6120 §4.9.3.17 resource-constraint: "the server lacks the system
 * resources necessary to service the stream". That is the case: the slots
 * for waiting connections are full, and the connection closed is not at
 * fault, since it may be a slow but honest peer pushed out by a flood, so
 * policy-violation (§4.9.3.14, the entity broke a rule) would blame it
 * wrongly; connection-timeout (§4.9.3.4, the peer seems to have lost the
 * ability to communicate) claims what we do not know. A peer that reads
 * resource-constraint may retry later, which suits an honest one.
 * Built once: a flood sends this thousands of times a second.
 */
const EVICTED: Record<PreauthLimit, StreamError> = {
  address: new StreamError('resource-constraint', 'too many connections from this address are waiting to authenticate; the oldest is closed to make room'),
  total: new StreamError('resource-constraint', 'too many connections are waiting to authenticate; the oldest is closed to make room'),
};

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

export function formatBinding(b: Binding): string {
  return b.host.includes(':') ? `[${b.host}]:${b.port}` : `${b.host}:${b.port}`;
}

function describeListenError(code: string): string {
  switch (code) {
    case 'EADDRINUSE':
      return 'the port is already in use';
    case 'EADDRNOTAVAIL':
      return 'the address is not on this machine';
    case 'EACCES':
      return 'permission denied (ports below 1024 need root)';
    default:
      return code;
  }
}
