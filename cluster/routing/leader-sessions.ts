import type { Stanza } from '../../src/router/router.js';
import type { PeerId } from '../transport/transport.js';
import { ReleasingMap } from './releasing-map.js';
import type { WireTableEntry } from './routing-messages.js';

/** A stanza the leader routes: which origin incarnation sent it, and its number there. */
export interface LeaderEntry {
  readonly origin: PeerId;
  readonly epoch: string;
  readonly seq: number;
  readonly stanza: Stanza;
  /** Counted as routed already (a stanza delivered again after a holder failed counts once). */
  counted: boolean;
}

/** The session that holds an address now, on which member. */
export interface Holding {
  readonly holder: PeerId;
  readonly sid: number;
  readonly peer: string;
  readonly since: number;
}

/** A stanza sent to a holder and not yet confirmed by it. */
export interface Delivery {
  readonly entry: LeaderEntry;
  readonly address: string;
}

interface HolderLink {
  /** The generation of the holder's last full report: it drops deliveries of any other. */
  readonly gen: number;
  next: number;
  /** By delivery number, in the order sent. */
  readonly outstanding: ReleasingMap<Delivery>;
}

/**
 * The leader's soft state (never in the Raft log): which member holds which
 * address, as the members report it, and per member the deliveries it has
 * not confirmed yet. Those are what the leader sends again, elsewhere or to
 * the same member, when the session or the member goes away; a member
 * confirms in the order it was sent, so one number confirms a prefix.
 */
export class LeaderSessions {
  private readonly holdings = new Map<string, Holding>();
  private readonly links = new Map<PeerId, HolderLink>();

  get(address: string): Holding | undefined {
    return this.holdings.get(address);
  }

  set(address: string, holding: Holding): void {
    this.holdings.set(address, holding);
  }

  delete(address: string): void {
    this.holdings.delete(address);
  }

  /** Addresses with a session, for disco#items. */
  addresses(): IterableIterator<string> {
    return this.holdings.keys();
  }

  heldBy(peer: PeerId): string[] {
    return [...this.holdings].filter(([, h]) => h.holder === peer).map(([address]) => address);
  }

  /** A full report from `peer` arrived since this node leads. */
  reported(peer: PeerId): boolean {
    return this.links.has(peer);
  }

  /**
   * `peer` reported in full with generation `gen`: deliveries of its earlier
   * generation it will drop, so they are returned, oldest first, to be sent again.
   */
  restart(peer: PeerId, gen: number): Delivery[] {
    const old = this.forget(peer);
    this.links.set(peer, { gen, next: 0, outstanding: new ReleasingMap() });
    return old;
  }

  /** `peer` is gone: what it did not confirm, oldest first. Its holdings stay until the caller moves them. */
  forget(peer: PeerId): Delivery[] {
    const link = this.links.get(peer);
    this.links.delete(peer);
    return link ? [...link.outstanding.values()] : [];
  }

  /** Numbers a delivery to a holder that reported; undefined if it did not. */
  record(peer: PeerId, delivery: Delivery): { gen: number; dseq: number } | undefined {
    const link = this.links.get(peer);
    if (link === undefined) return undefined;
    const dseq = ++link.next;
    link.outstanding.set(dseq, delivery);
    return { gen: link.gen, dseq };
  }

  /** `peer` processed every delivery up to `dseq` of `gen`: those, now settled. */
  confirmed(peer: PeerId, gen: number, dseq: number): Delivery[] {
    const link = this.links.get(peer);
    if (link === undefined || link.gen !== gen) return [];
    return link.outstanding.takeUpTo(dseq);
  }

  /** Unconfirmed deliveries to `peer` for one address, oldest first, taken out. */
  takeOutstanding(peer: PeerId, address: string): Delivery[] {
    const link = this.links.get(peer);
    if (link === undefined) return [];
    const taken: Delivery[] = [];
    for (const [n, delivery] of link.outstanding.entries()) {
      if (delivery.address !== address) continue;
      link.outstanding.take(n);
      taken.push(delivery);
    }
    return taken;
  }

  table(): WireTableEntry[] {
    return [...this.holdings]
      .map(([address, h]) => ({ address, node: h.holder, peer: h.peer, since: h.since }))
      .sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  }
}
