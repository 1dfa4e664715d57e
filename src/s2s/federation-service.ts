import { randomBytes } from 'node:crypto';
import type { Logger } from '../observability/logger.js';
import type { RemoteRoutes, Route, Stanza } from '../router/router.js';
import { StanzaError, StreamError } from '../xmpp/errors.js';
import { domainOf } from '../xmpp/jid.js';
import { connectionRow } from './connection-rows.js';
import { FederationEvents } from './federation-events.js';
import { FederationPolicy, policyIncomingError, policyOutgoingError } from './federation-policy.js';
import { DEFAULT_OUTBOUND_QUEUE_LIMITS, queuedFromRaw, undelivered, type OutboundQueueLimits, type Undelivered } from './outbound-queue.js';
import { ReentryRoute } from './reentry-route.js';
import { RemoteRoute } from './remote-route.js';
import type { RemoteRouteContext } from './remote-route-context.js';
import type { FederationConfig, IncomingHooks, IncomingStream, OutgoingConnector, OutgoingStream, S2sCloseReason, S2sEnvironment, S2sStreamInfo } from './server-streams.js';
import { StreamAdmission, type Refusal } from './stream-admission.js';
import type { LivenessOptions } from './stream-liveness.js';
import { REAL_CLOCK, StreamWatch, type Clock } from './stream-watch.js';

/**
 * Federation as the router sees it (RemoteRoutes, Prosody's `route/remote`):
 * one RemoteRoute per (local domain, remote domain) pair over outgoing
 * server streams, the incoming streams the listener reports, liveness on
 * both, and live settings changes that close only the streams they affect
 * (federation.md, "Where we go further"). It knows no sockets: the protocol
 * modules behind OutgoingConnector and IncomingHooks do (server-streams.ts).
 */

export interface FederationServiceOptions {
  env: S2sEnvironment;
  connect: OutgoingConnector;
  /** Hands a stanza to the router (router.route): incoming traffic and bounces. */
  inject(stanza: Stanza, origin: Route): void;
  /** stream-liveness.ts defaults: ping after 10 s of silence, dead 20 s later, idle close after 600 s. */
  liveness?: Partial<LivenessOptions>;
  queueLimits?: Partial<OutboundQueueLimits>;
  /** Real timers by default. */
  clock?: Clock;
  /** After a failed connection, new stanzas for the pair bounce at once for this long (remote-route.ts says why). 3 s by default. */
  retryAfterFailureMs?: number;
  /** How long close() waits for the streams to report closed. 5 s by default. */
  closeTimeoutMs?: number;
}

export interface FederationCounters {
  /** Undeliverable stanzas bounced to their senders. */
  bounced: number;
  /** Undeliverable errors and iq results (never bounced, RFC 6120 §8.3.1). */
  dropped: number;
  /** Stanzas re-sent on a new stream after theirs was lost. */
  resent: number;
  pings: number;
  /** Pongs taken by the service (never routed). */
  pongs: number;
  /** Stanzas bounced `<not-allowed/>` by policy. */
  policyRefused: number;
}

interface IncomingEntry {
  readonly stream: IncomingStream;
  readonly route: ReentryRoute;
  readonly watch: StreamWatch;
}

export class FederationService implements RemoteRoutes {
  readonly incoming: IncomingHooks;
  readonly counters: FederationCounters = { bounced: 0, dropped: 0, resent: 0, pings: 0, pongs: 0, policyRefused: 0 };
  private readonly env: S2sEnvironment;
  private readonly log: Logger;
  private readonly events: FederationEvents;
  private readonly clock: Clock;
  private readonly inject: (stanza: Stanza, origin: Route) => void;
  private readonly ctx: RemoteRouteContext;
  private readonly closeTimeoutMs: number;
  /** `${localDomain} ${remoteDomain}` → its route. */
  private readonly pairs = new Map<string, RemoteRoute>();
  /** The same routes by remote domain: what arrives from a domain is a sign of life for each. */
  private readonly byRemote = new Map<string, Set<RemoteRoute>>();
  private readonly incomingStreams = new Map<IncomingStream, IncomingEntry>();
  /** Our ping ids start with this, so a late pong for a replaced stream is still recognized and taken. */
  private readonly pingPrefix = `s2s-ping-${randomBytes(4).toString('hex')}-`;
  private pingSeq = 0;
  private policyCache: { config: FederationConfig; policy: FederationPolicy } | undefined;
  private closed = false;

  constructor(options: FederationServiceOptions) {
    this.env = options.env;
    this.log = options.env.log;
    this.events = new FederationEvents(this.log, options.env.nodeName);
    this.clock = options.clock ?? REAL_CLOCK;
    this.inject = options.inject;
    this.closeTimeoutMs = options.closeTimeoutMs ?? 5000;
    this.ctx = {
      connect: options.connect,
      clock: this.clock,
      liveness: options.liveness ?? {},
      queueLimits: { ...DEFAULT_OUTBOUND_QUEUE_LIMITS, ...options.queueLimits },
      events: this.events,
      log: this.log,
      retryAfterFailureMs: options.retryAfterFailureMs ?? 3000,
      undelivered: (what, origin) => this.undelivered(what, origin),
      admission: () => new StreamAdmission(this.env.config()),
      pingId: () => `${this.pingPrefix}${++this.pingSeq}`,
      received: (stanza, stream) => this.fromOutgoing(stanza, stream),
      count: (what) => void this.counters[what]++,
    };
    this.incoming = {
      authorized: (stream, domain) => this.authorized(stream, domain),
      stanza: (stanza, stream) => this.fromIncoming(stanza, stream),
      closed: (stream, reason) => this.incomingClosed(stream, reason),
    };
  }

  // RemoteRoutes
  routeFor(stanza: Stanza): Route | undefined {
    if (this.closed) return undefined;
    const config = this.env.config();
    // Disabled: no route, and the router bounces <remote-server-not-found/> itself.
    if (!config.enabled) return undefined;
    const remoteDomain = stanza.toDomain;
    const decision = this.policy(config).allows(remoteDomain, 'outgoing');
    if (!decision.allowed) {
      this.events.policyRefused(remoteDomain, 'outgoing', decision.text);
      return this.bouncing(stanza, policyOutgoingError(remoteDomain), 'policyRefused');
    }
    const localDomain = domainOf(stanza.attrs.from ?? '');
    const ours = this.env.domain().toLowerCase();
    if (localDomain !== ours && !localDomain.endsWith(`.${ours}`)) {
      // A stream is authorized for our domains only: the peer would end it
      // with <invalid-from/> (RFC 6120 §4.9.3.9), taking every other stanza on it along.
      return this.bouncing(stanza, new StanzaError('not-allowed', `${localDomain || 'this sender'} cannot federate from here`, 'cancel'));
    }
    const key = `${localDomain} ${remoteDomain}`;
    let route = this.pairs.get(key);
    if (route === undefined) {
      this.forgetIdleRoutes();
      route = new RemoteRoute(localDomain, remoteDomain, this.ctx);
      this.pairs.set(key, route);
      const same = this.byRemote.get(remoteDomain) ?? new Set<RemoteRoute>();
      this.byRemote.set(remoteDomain, same.add(route));
    }
    return route.offer(stanza);
  }

  /**
   * Pairs with nothing left (no stream, nothing waiting, no recent failure)
   * are forgotten when a new pair comes, so the map holds the pairs in use,
   * not every domain a bridge ever wrote to. Safe: the router gets a route
   * from routeFor and delivers to it at once; it keeps one only to wait for
   * its drain, and a route with drain waiters is not idle.
   */
  private forgetIdleRoutes(): void {
    const now = this.clock.now();
    for (const [key, route] of this.pairs) {
      if (!route.idleAt(now)) continue;
      this.pairs.delete(key);
      const same = this.byRemote.get(route.remoteDomain);
      same?.delete(route);
      if (same?.size === 0) this.byRemote.delete(route.remoteDomain);
    }
  }

  /** This node's streams, both directions, as `xmpp federation connections` lists them. */
  connections(): S2sStreamInfo[] {
    const rows: S2sStreamInfo[] = [];
    for (const route of this.pairs.values()) if (route.current !== undefined) rows.push(connectionRow(route.current));
    for (const { stream } of this.incomingStreams.values()) rows.push(connectionRow(stream));
    return rows;
  }

  /**
   * The settings changed (a command, a replicated change): close exactly the
   * streams they no longer allow (stream-admission.ts); every other stream
   * stays up. Stanzas waiting for a domain now refused bounce `<not-allowed/>`.
   */
  configurationChanged(): void {
    if (this.closed) return;
    const config = this.env.config();
    const admission = new StreamAdmission(config);
    for (const route of this.pairs.values()) {
      if (!route.busy) continue;
      const stream = route.current;
      const refusal = admission.refuses({ direction: 'outgoing', domains: [route.remoteDomain], tls: stream?.tls ?? null, auth: stream?.auth ?? 'dialback' });
      if (refusal === undefined) continue;
      // Security is a property of a stream: a route still connecting is judged once its stream is ready (remote-route.ts).
      if (refusal.why === 'security' && stream === undefined) continue;
      const error = !config.enabled
        ? new StanzaError('remote-server-not-found', 'federation is disabled')
        : refusal.why === 'policy'
          ? policyOutgoingError(route.remoteDomain)
          : undefined;
      if (refusal.why === 'policy' && config.enabled) this.events.policyRefused(route.remoteDomain, 'outgoing', refusal.text, stream?.peerAddress ?? null);
      route.refuse(refusal.why, error);
    }
    for (const entry of [...this.incomingStreams.values()]) {
      const { stream } = entry;
      const refusal = admission.refuses({ direction: 'incoming', domains: [...stream.authorizedDomains], tls: stream.tls, auth: stream.auth });
      if (refusal !== undefined) this.closeIncoming(stream, refusal, config.enabled);
    }
  }

  /** Closes every stream; queued stanzas bounce. Resolves once the streams report closed (or after closeTimeoutMs). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const done: Array<Promise<void>> = [];
    for (const route of this.pairs.values()) done.push(route.shutdown());
    for (const { stream } of [...this.incomingStreams.values()]) {
      stream.close({ by: 'us', why: 'shutdown', error: new StreamError('system-shutdown', 'the server is shutting down') });
    }
    let timer: unknown;
    const timeout = new Promise<void>((resolve) => (timer = this.clock.setTimeout(resolve, this.closeTimeoutMs)));
    await Promise.race([Promise.all(done), timeout]);
    this.clock.clearTimeout(timer);
  }

  // Incoming streams
  private authorized(stream: IncomingStream, domain: string): void {
    if (this.closed) {
      stream.close({ by: 'us', why: 'shutdown', error: new StreamError('system-shutdown', 'the server is shutting down') });
      return;
    }
    const config = this.env.config();
    const refusal = new StreamAdmission(config).refuses({ direction: 'incoming', domains: [domain], tls: stream.tls, auth: stream.auth });
    if (refusal !== undefined) {
      // The listener checks policy before it authorizes; this is the second fence (and a race with a change).
      this.closeIncoming(stream, refusal, config.enabled, this.incomingStreams.has(stream));
      return;
    }
    if (this.incomingStreams.has(stream)) return;
    const route = new ReentryRoute(stream.remoteDomain, this.inject, stream, (raw, why) => this.dropAnswer(raw, why));
    const watch = new StreamWatch(
      this.clock,
      this.ctx.liveness,
      {
        ping: () => {},
        dead: () => {},
        idle: () => stream.close({ by: 'us', why: 'idle' }),
      },
      false,
    );
    this.incomingStreams.set(stream, { stream, route, watch });
    this.events.opened(stream);
  }

  private fromIncoming(stanza: Stanza, stream: IncomingStream): void {
    const entry = this.incomingStreams.get(stream);
    if (entry === undefined) return;
    if (this.takePong(stanza)) {
      entry.watch.heard();
      return;
    }
    entry.watch.stanza('received');
    this.inject(stanza, entry.route);
  }

  private incomingClosed(stream: IncomingStream, reason: S2sCloseReason): void {
    const entry = this.incomingStreams.get(stream);
    if (entry === undefined) return;
    this.incomingStreams.delete(stream);
    entry.watch.stop();
    this.events.closed(stream, reason);
  }

  private closeIncoming(stream: IncomingStream, refusal: Refusal, enabled: boolean, registered = true): void {
    const domain = refusal.why === 'policy' ? refusal.domain : stream.remoteDomain;
    if (refusal.why === 'policy' && enabled) this.events.policyRefused(domain, 'incoming', refusal.text, stream.peerAddress);
    // federation.md, "Errors on the wire": an incoming stream refused by policy ends with <policy-violation/>.
    const error = refusal.why === 'policy' ? policyIncomingError(domain) : new StreamError('policy-violation', refusal.text);
    stream.close({ by: 'us', why: refusal.why, error });
    if (!registered) this.log.info({ domain, peer: stream.peerAddress, refused: refusal.why }, 'an incoming federation stream was refused');
  }

  /** RemoteRoutes.claims: a pong for one of our pings that another member received and the cluster brought here. */
  claims(stanza: Stanza): boolean {
    const id = stanza.attrs.id;
    return id !== undefined && id.startsWith(this.pingPrefix) && this.takePong(stanza);
  }

  /** What the peer sends on our outgoing stream (XEP-0288 or a stray answer): taken like incoming traffic. */
  private fromOutgoing(stanza: Stanza, stream: OutgoingStream): void {
    if (this.takePong(stanza)) return;
    this.heardFrom(domainOf(stanza.attrs.from ?? ''));
    this.inject(stanza, new ReentryRoute(stream.remoteDomain, this.inject, {}, (raw, why) => this.dropAnswer(raw, why)));
  }

  /**
   * Any stanza from a remote domain shows it is alive, for every outgoing
   * stream to it (its pong arrives on its own stream to us, RFC 6120 §2.4);
   * the answer to one of our pings is taken here and never routed.
   */
  private takePong(stanza: Stanza): boolean {
    const from = domainOf(stanza.attrs.from ?? '');
    this.heardFrom(from);
    const { id, type } = stanza.attrs;
    if (stanza.name !== 'iq' || (type !== 'result' && type !== 'error') || id === undefined || !id.startsWith(this.pingPrefix)) return false;
    this.pairs.get(`${stanza.toDomain} ${from}`)?.pong(id);
    this.counters.pongs++;
    return true;
  }

  private heardFrom(domain: string): void {
    for (const route of this.byRemote.get(domain) ?? []) route.heard();
  }

  // Bounces
  /** A route for one stanza that bounces it with `error` (policy, a sender that is not ours). */
  private bouncing(stanza: Stanza, error: StanzaError, count?: 'policyRefused'): Route {
    const route: Route = {
      address: stanza.toDomain,
      deliver: (raw) => {
        if (count) this.counters[count]++;
        this.undelivered(undelivered([raw === stanza.raw ? stanza : queuedFromRaw(raw)], error), route);
        return true;
      },
      replaced: () => {},
      onDrained: (callback) => callback(),
      hold: () => {},
      release: () => {},
    };
    return route;
  }

  private undelivered(what: Undelivered, origin: Route): void {
    for (const stanza of what.dropped) {
      this.counters.dropped++;
      this.log.debug({ to: stanza.attrs.to, type: stanza.attrs.type, name: stanza.name }, 'undeliverable federated stanza dropped (no error for an error or result)');
    }
    for (const bounce of what.bounces) {
      this.counters.bounced++;
      this.inject(bounce.reply, origin);
    }
  }

  private dropAnswer(raw: string, why: string): void {
    this.counters.dropped++;
    this.log.debug({ why, bytes: raw.length }, 'an answer for a federated stream could not be routed');
  }

  /** One compiled policy per version of the settings (config() returns the same object until it changes). */
  private policy(config: FederationConfig): FederationPolicy {
    if (this.policyCache?.config !== config) this.policyCache = { config, policy: new FederationPolicy(config) };
    return this.policyCache.policy;
  }
}
