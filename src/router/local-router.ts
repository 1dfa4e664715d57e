import type { Logger } from '../observability/logger.js';
import { StanzaError } from '../xmpp/errors.js';
import { errorReply } from '../xmpp/stanza.js';
import type { Route, Router, Stanza } from './router.js';
import { answerServerStanza } from './server-domain.js';

/** What the router counts; read by `xmpp status` and the metrics endpoint. */
export interface RouterCounters {
  routed: number;
  bounced: number;
  /** Undeliverable stanzas that get no bounce (errors, iq results). */
  dropped: number;
  answered: number;
}

/**
 * Routes between the components connected to this node. The common case is
 * one map lookup on the `to` domain and a hand-over of the original text.
 */
export class LocalRouter implements Router {
  private readonly routes = new Map<string, Route>();
  readonly counters: RouterCounters = { routed: 0, bounced: 0, dropped: 0, answered: 0 };

  constructor(
    /** The XMPP domain this node serves; a function because `xmpp domain` may change it. */
    private readonly domain: () => string,
    private readonly log: Logger,
  ) {}

  attach(route: Route): void {
    const old = this.routes.get(route.address);
    this.routes.set(route.address, route);
    if (old && old !== route) {
      this.log.info({ event: 'component_replaced', component: route.address }, 'a new connection replaced the old one');
      old.replaced();
    }
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
    if (target !== undefined) {
      this.counters.routed++;
      if (!target.deliver(stanza.raw)) origin.holdUntilDrained(target);
      return;
    }
    const domain = this.domain();
    if (stanza.toDomain === domain) {
      const reply = answerServerStanza(stanza, { domain, components: () => this.routes.keys() });
      this.counters.answered++;
      if (reply !== null) origin.deliver(reply);
      return;
    }
    this.bounce(stanza, origin, domain);
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
    origin.deliver(errorReply(stanza.name, stanza.attrs, error));
  }
}
