import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../observability/logger.js';
import type { Router } from '../router/router.js';
import { StreamError } from '../xmpp/errors.js';
import { AuthThrottle, DEFAULT_AUTH_THROTTLE, type AuthThrottleOptions } from './auth-throttle.js';
import { ComponentSession, DEFAULT_SESSION_OPTIONS, type ComponentSessionInfo, type ComponentSessionOptions } from './component-session.js';

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

export class ComponentServer {
  private servers: Server[] = [];
  private readonly sessions = new Set<ComponentSession>();
  private readonly throttle: AuthThrottle;
  private readonly options: ComponentSessionOptions;
  private bound: Binding[] = [];

  constructor(private readonly ctx: ComponentServerContext) {
    this.options = { ...DEFAULT_SESSION_OPTIONS, ...ctx.options };
    this.throttle = new AuthThrottle({ ...DEFAULT_AUTH_THROTTLE, ...ctx.throttle });
  }

  get listening(): boolean {
    return this.servers.length > 0;
  }

  /** The addresses actually bound (ports resolved when 0 was asked for). */
  get bindings(): readonly Binding[] {
    return this.bound;
  }

  /** Listens on every binding, or on none: a failure closes those already opened. */
  async start(bindings: Binding[]): Promise<void> {
    if (this.listening) throw new Error('component server already listening');
    const opened: Server[] = [];
    const bound: Binding[] = [];
    try {
      for (const b of bindings) {
        const server = createServer((socket) => this.accept(socket));
        await new Promise<void>((resolve, reject) => {
          server.once('error', (err: NodeJS.ErrnoException) => reject(new ListenError(b, err.code ?? err.message)));
          server.listen({ host: b.host, port: b.port, exclusive: true }, () => resolve());
        });
        server.on('error', (err) => this.ctx.log.error({ event: 'listener_error', err: err.message }, 'component listener error'));
        opened.push(server);
        const addr = server.address();
        bound.push({ host: b.host, port: typeof addr === 'object' && addr ? addr.port : b.port });
      }
    } catch (err) {
      await Promise.all(opened.map((s) => closeServer(s)));
      throw err;
    }
    this.servers = opened;
    this.bound = bound;
    this.ctx.log.info({ event: 'listening', bindings: bound.map(formatBinding) }, 'component ports open');
  }

  /** Closes the listeners and ends every session with `condition` (system-shutdown by default). */
  async stop(error = new StreamError('system-shutdown', 'the XMPP server is shutting down')): Promise<void> {
    const servers = this.servers;
    this.servers = [];
    this.bound = [];
    for (const s of [...this.sessions]) s.end(error);
    await Promise.all(servers.map((s) => closeServer(s)));
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

  /** Authenticated sessions, by component address. */
  online(): ComponentSessionInfo[] {
    return [...this.sessions].filter((s) => s.isOnline).map((s) => s.info());
  }

  private accept(socket: Socket): void {
    const session = new ComponentSession(socket, {
      domain: this.ctx.domain,
      secretFor: this.ctx.secretFor,
      router: this.ctx.router,
      throttle: this.throttle,
      log: this.ctx.log,
      now: this.ctx.now ?? Date.now,
      options: this.options,
      ended: (s) => this.sessions.delete(s),
    });
    this.sessions.add(session);
  }
}

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
