/**
 * Where a stanza goes. The component code sees only this interface: a single
 * node implements it with LocalRouter; a cluster member implements it by
 * forwarding to the leader, without the component code changing.
 */

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

/** A connected, authenticated endpoint that stanzas can be delivered to. */
export interface Route {
  /** The component address it serves, lowercased, e.g. cb1.example.test. */
  readonly address: string;
  /**
   * Queues a stanza's text for the peer. Returns false when the peer is not
   * keeping up; the router then holds back the sender until it drains.
   */
  deliver(raw: string): boolean;
  /** Another connection took over this address: end with `<conflict/>`. */
  replaced(): void;
  /** Called once, when `target` drains, if this route was held back for it. */
  holdUntilDrained(target: Route): void;
}

export interface Router {
  /** Registers a route for its address; an existing route for it is replaced. */
  attach(route: Route): void;
  /** Removes the route if it is still the one registered for its address. */
  detach(route: Route): void;
  /** Delivers, answers or bounces one stanza that `origin` sent. */
  route(stanza: Stanza, origin: Route): void;
}
