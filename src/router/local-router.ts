import type { Logger } from '../observability/logger.js';
import { StanzaError } from '../xmpp/errors.js';
import { errorReply } from '../xmpp/stanza.js';
import { HeldSenders } from './held-senders.js';
import { countBounce, type BounceCounts, type RemoteRoutes, type Route, type Router, type RouterCounters, type Stanza } from './router.js';
import { answerServerStanza } from './server-domain.js';

export interface LocalRouterOptions {
  /** The XMPP domain this node serves; a function because `xmpp domain` may change it. */
  domain: () => string;
  log: Logger;
  /** Federation's routes to other domains; without them such stanzas bounce. */
  remote?: RemoteRoutes;
}

/**
 * Routes between the components connected to this node. The common case is
 * one map lookup on the `to` domain and a hand-over of the original text.
 */
export class LocalRouter implements Router {
  private readonly routes = new Map<string, Route>();
  private readonly held = new HeldSenders();
  readonly counters: RouterCounters = { routed: 0, bounced: 0, dropped: 0, answered: 0 };
  readonly bounces: BounceCounts = {};
  private readonly domain: () => string;
  private readonly log: Logger;
  private readonly remote: RemoteRoutes | undefined;

  constructor(options: LocalRouterOptions) {
    this.domain = options.domain;
    this.log = options.log;
    this.remote = options.remote;
  }

  attach(route: Route, ready?: () => void): void {
    const old = this.routes.get(route.address);
    this.routes.set(route.address, route);
    if (old && old !== route) {
      this.log.info({ event: 'component_replaced', component: route.address }, 'a new connection replaced the old one');
      old.replaced();
    }
    ready?.();
  }

  detach(route: Route): void {
    if (this.routes.get(route.address) === route) this.routes.delete(route.address);
  }

  /** Component addresses with a route now. */
  addresses(): IterableIterator<string> {
    return this.routes.keys();
  }

  route(stanza: Stanza, origin: Route): void {
    const target = this.routes.get(stanza.toDomain) ?? this.alias(stanza.toDomain);
    if (target !== undefined) return this.deliver(stanza, target, origin);
    const domain = this.domain();
    if (stanza.toDomain === domain) {
      const reply = answerServerStanza(stanza, { domain, components: () => this.routes.keys() });
      this.counters.answered++;
      // A full queue here holds the origin by itself (Route.deliver): a peer
      // that pings and never reads stops being read.
      if (reply !== null) origin.deliver(reply);
      return;
    }
    if (this.remote !== undefined && isRemote(stanza.toDomain, domain)) {
      const remote = this.remote.routeFor(stanza);
      if (remote !== undefined) return this.deliver(stanza, remote, origin);
    }
    this.bounce(stanza, origin, domain);
  }

  private deliver(stanza: Stanza, target: Route, origin: Route): void {
    this.counters.routed++;
    if (!target.deliver(stanza.raw)) this.held.holdUntilDrained(origin, target);
  }

  /** CMS call bridges are named without the domain: `cb1` is `cb1.<domain>`. */
  private alias(toDomain: string): Route | undefined {
    if (toDomain.indexOf('.') !== -1) return undefined;
    return this.routes.get(`${toDomain}.${this.domain()}`);
  }

  /** Never silence, never an error for an error (RFC 6120 §8.3.1). */
  private bounce(stanza: Stanza, origin: Route, domain: string): void {
    const type = stanza.attrs.type;
    if (type === 'error' || (stanza.name === 'iq' && type === 'result')) {
      this.counters.dropped++;
      this.log.debug({ event: 'undeliverable_dropped', to: stanza.attrs.to, type }, 'undeliverable stanza dropped (no error for an error or result)');
      return;
    }
    const inOurDomain = stanza.toDomain.endsWith(`.${domain}`);
    const error = inOurDomain
      ? new StanzaError('service-unavailable', `${stanza.toDomain} is not connected`)
      : new StanzaError('remote-server-not-found', `${stanza.toDomain} is not served here`);
    this.counters.bounced++;
    countBounce(this.bounces, error.condition);
    origin.deliver(errorReply(stanza.name, stanza.attrs, error));
  }
}

/**
 * Another server's domain: not ours, not under ours (a component of ours that
 * is not connected), and not a bare name (CMS's alias for one of our call bridges).
 */
function isRemote(toDomain: string, domain: string): boolean {
  return toDomain.indexOf('.') !== -1 && !toDomain.endsWith(`.${domain}`);
}
