/**
 * Where a stanza goes. The component code sees only this interface: a single
 * node implements it with LocalRouter; a cluster member implements it by
 * forwarding to the leader, without the component code changing.
 */

import type { StanzaErrorCondition } from '../xmpp/errors.js';

export type StanzaName = 'message' | 'presence' | 'iq';

/** A stanza as the stream parser delivered it: its head, and its original text. */
export interface Stanza {
  readonly name: StanzaName;
  /** Attributes as sent; from and to are present (the session checked them). */
  readonly attrs: Readonly<Record<string, string>>;
  readonly raw: string;
  /** The domain part of `to`, lowercased. */
  readonly toDomain: string;
}

/**
 * Why a route stops taking stanzas from its peer, compared by identity: the
 * route it waits for, or a reason of the route's own (its queue is full).
 */
export type HoldReason = object;

/**
 * An endpoint stanzas can be delivered to: a call bridge's session, a link to
 * a peer node, a federated server. Back-pressure is part of every route, so
 * no peer can make the server queue without end, whatever kind of route it is.
 */
export interface Route {
  /** The address it serves, lowercased: a component (cb1.example.test) or a remote domain. */
  readonly address: string;
  /**
   * Queues a stanza's text for the peer. Returns false when the queue is over
   * its high-water mark. The route then stops taking stanzas from its own
   * peer until the queue drains, whoever filled it (the router's answers and
   * bounces go back to the sender through here), and the router holds back
   * the sender, if another route, until it drains.
   */
  deliver(raw: string): boolean;
  /**
   * For a route that may take a stanza before it is on its way (a remote
   * domain's, while its stream is set up): as deliver, and calls `settled`
   * once the stanza has been written to the peer, bounced or dropped. A
   * cluster leader confirms to the origin member only then. Routes without
   * it are settled by deliver itself.
   */
  deliverSettled?(raw: string, settled: () => void): boolean;
  /** Another connection took over this address: end with `<conflict/>`. */
  replaced(): void;
  /**
   * Calls `callback` once, when the queue has drained below its mark or the
   * route has ended; a route that has ended already calls it at once.
   */
  onDrained(callback: () => void): void;
  /**
   * Stops taking stanzas from the peer for `reason`. Holds compose: the route
   * reads again only when every reason it was held for is released. Holding
   * twice for the same reason is one hold.
   */
  hold(reason: HoldReason): void;
  release(reason: HoldReason): void;
}

/** What a router counts; read by `xmpp status` and the metrics endpoint. */
export interface RouterCounters {
  /** Handed to a route: a component's, a peer node's, a remote domain's. */
  routed: number;
  bounced: number;
  /** Undeliverable stanzas that get no bounce (errors, iq results). */
  dropped: number;
  /** Addressed to the server's domain and taken by the server itself. */
  answered: number;
}

export interface Router {
  /**
   * Registers a route for its address; an existing route for it is replaced.
   * `ready` is called once stanzas from anywhere can reach it: at once on one
   * node, once the leader knows the session in a cluster. A call bridge is
   * told `<handshake/>` then, so that nothing sent to it after it connected
   * bounces.
   */
  attach(route: Route, ready?: () => void): void;
  /** Removes the route if it is still the one registered for its address. */
  detach(route: Route): void;
  /** Delivers, answers or bounces one stanza that `origin` sent. */
  route(stanza: Stanza, origin: Route): void;
  /** Live counts since the router started. */
  readonly counters: Readonly<RouterCounters>;
  /** `bounced` by the stanza error condition given (RFC 6120 §8.3.3), for the metrics endpoint. */
  readonly bounces?: Readonly<BounceCounts>;
}

/** Bounces by condition: the keys are RFC 6120 condition names, a bounded set. */
export type BounceCounts = Partial<Record<StanzaErrorCondition, number>>;

/** Counts one bounce (not on the hot path: a bounce builds an error stanza anyway). */
export function countBounce(counts: BounceCounts, condition: StanzaErrorCondition): void {
  counts[condition] = (counts[condition] ?? 0) + 1;
}

/**
 * Routes to domains this node neither is nor serves a component of
 * (federation), as Prosody's `route/remote` event: asked before the router
 * bounces with `<remote-server-not-found/>`.
 */
export interface RemoteRoutes {
  /**
   * The route that carries `stanza` to its remote domain, or undefined when
   * there is none. The router delivers through it, with back-pressure, and
   * counts it as routed; errors and results go too, as they are replies the
   * remote side waits for.
   */
  routeFor(stanza: Stanza): Route | undefined;
  /**
   * True when `stanza` answers federation's own request and is taken here
   * rather than routed: an XEP-0199 pong for this leader's outgoing stream
   * that arrived on a stream to another cluster member, which forwarded it.
   * Asked of iq results and errors only.
   */
  claims?(stanza: Stanza): boolean;
}
