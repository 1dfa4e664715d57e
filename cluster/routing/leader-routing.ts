import type { Logger } from '../../src/observability/logger.js';
import { countBounce, type BounceCounts, type RemoteRoutes, type Route, type RouterCounters } from '../../src/router/router.js';
import { answerServerStanza } from '../../src/router/server-domain.js';
import type { StanzaErrorCondition } from '../../src/xmpp/errors.js';
import type { PeerId } from '../transport/transport.js';
import { stanzaText } from './binary-messages.js';
import { DedupWindow } from './dedup-window.js';
import { LeaderSessions, type Delivery, type Holding, type LeaderEntry } from './leader-sessions.js';
import type { RoutingMessage, WireSession, WireTableEntry } from './routing-messages.js';
import { bounceFor, destinationKey, immediateCondition, isComponentOf, isRemoteDomain } from './undeliverable.js';

export interface LeaderContext {
  readonly self: PeerId;
  readonly domain: () => string;
  readonly log: Logger;
  readonly remote: RemoteRoutes | undefined;
  readonly graceMs: number;
  readonly counters: RouterCounters;
  readonly bounces: BounceCounts;
  /** Cluster members, this node included. */
  members(): ReadonlySet<PeerId>;
  /** The local route of a session of this node, if it is still the one with `sid`. */
  localRoute(address: string, sid: number): Route | undefined;
  /** Writes to a route of this node (a local session, a remote domain's route) and confirms to the origin. */
  write(route: Route, entry: LeaderEntry, destination: string): void;
  /** Confirms to the origin that the stanza is settled here, with the answer or bounce to give its sender. */
  settle(entry: LeaderEntry, reply: string | null): void;
  send(peer: PeerId, message: RoutingMessage): boolean;
  /** Ends the session `sid` of `address` on `holder` with `<conflict/>`; on this node at once. */
  replace(holder: PeerId, address: string, sid: number): void;
  tableChanged(): void;
}

/** Stanzas for an address that cannot take them now, in arrival order. */
interface Waiting {
  pending: LeaderEntry[];
  /** A newer session is elsewhere: wait until the old holder has let go, so nothing is written to both. */
  waitingFor?: { holder: PeerId; sid: number } | undefined;
  /** Unknown when this node became leader: held until the members have reported or graceMs passed. */
  startup: boolean;
  timer?: NodeJS.Timeout | undefined;
}

/**
 * What the leader does with every stanza of the cluster: LocalRouter's rules
 * over the cluster-wide session table. A destination that cannot take a
 * stanza now (recently gone, or moving between members) gets a queue, so
 * every stanza for it waits behind the earlier ones: per-destination order
 * is kept across holders, failures and reconnects.
 *
 * One instance per term of leadership: a new leader knows nothing and learns
 * from the members' reports; the origins send it all they have not had confirmed.
 */
export class LeaderRouting {
  private readonly sessions = new LeaderSessions();
  private readonly waiting = new Map<string, Waiting>();
  /** Entries queued here or sent to a holder and not yet confirmed: a resent copy of one is ignored. */
  private readonly inFlight = new InFlight();
  /** Settled by this leader, so a resent copy is confirmed again, not routed again. */
  private readonly settled = new DedupWindow();
  private startupOver: boolean;
  private readonly startupTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly ctx: LeaderContext,
    ownSessions: readonly WireSession[],
  ) {
    for (const s of ownSessions) this.sessions.set(s.address, { holder: ctx.self, sid: s.sid, peer: s.peer, since: s.since });
    // A bridge may be reconnecting to another member during the failover that made us leader.
    this.startupOver = ctx.members().size <= 1;
    this.startupTimer = this.startupOver ? undefined : unrefTimer(() => this.endStartup(), ctx.graceMs);
  }

  forward(entry: LeaderEntry): void {
    if (this.closed || this.inFlight.has(entry)) return;
    const { stanza } = entry;
    const domain = this.ctx.domain();
    const key = destinationKey(stanza.toDomain, domain);
    if (this.settled.isSettled(entry.origin, entry.epoch, key, entry.seq)) return this.ctx.settle(entry, null);
    // A pong for this leader's federation ping that reached another member's incoming stream (RFC 6120 §2.4: answers come on the peer's own stream).
    if (stanza.name === 'iq' && this.ctx.remote?.claims !== undefined && stanza.attrs.type !== 'get' && stanza.attrs.type !== 'set' && this.ctx.remote.claims(stanza)) {
      this.counters.answered++;
      return this.finish(entry, key, null);
    }
    const waiting = this.waiting.get(key);
    if (waiting !== undefined) return this.enqueue(waiting, entry);
    const holding = this.sessions.get(key);
    if (holding !== undefined) return this.deliver(entry, key, holding);
    if (stanza.toDomain === domain) {
      this.counters.answered++;
      return this.finish(entry, key, answerServerStanza(stanza, { domain, components: () => this.sessions.addresses() }));
    }
    if (this.ctx.remote !== undefined && isRemoteDomain(stanza.toDomain, domain)) {
      const route = this.ctx.remote.routeFor(stanza);
      if (route !== undefined) {
        this.counters.routed++;
        this.settled.settle(entry.origin, entry.epoch, key, entry.seq);
        return this.ctx.write(route, entry, key);
      }
    }
    if (!this.startupOver && isComponentOf(key, domain) && !this.allReported()) {
      const held: Waiting = { pending: [], startup: true };
      this.waiting.set(key, held);
      return this.enqueue(held, entry);
    }
    this.undeliverable(entry, key, immediateCondition(stanza.toDomain, domain));
  }

  /** A full report from a member: its sessions now, and a new generation for deliveries to it. */
  report(from: PeerId, gen: number, reported: readonly WireSession[]): void {
    if (this.closed || from === this.ctx.self) return;
    this.requeue(this.sessions.restart(from, gen));
    const now = new Map(reported.map((s) => [s.address, s.sid]));
    for (const address of this.sessions.heldBy(from)) {
      if (now.get(address) !== this.sessions.get(address)!.sid) this.gone(address);
    }
    for (const [address, w] of this.waiting) {
      if (w.waitingFor?.holder === from && now.get(address) !== w.waitingFor.sid) w.waitingFor = undefined;
    }
    for (const s of reported) this.attachSession(from, s, false);
    this.settleAll();
    this.ctx.tableChanged();
  }

  attach(from: PeerId, session: WireSession): void {
    if (this.closed || !this.knows(from)) return;
    this.attachSession(from, session, true);
    this.settle(session.address);
    this.ctx.tableChanged();
  }

  detach(from: PeerId, address: string, sid: number): void {
    if (this.closed || !this.knows(from)) return;
    const w = this.waiting.get(address);
    if (w?.waitingFor !== undefined && w.waitingFor.holder === from && w.waitingFor.sid === sid) {
      // The old holder let go: what it did not write goes to the new one, first.
      w.waitingFor = undefined;
      this.requeue(this.sessions.takeOutstanding(from, address));
      return this.settle(address);
    }
    const holding = this.sessions.get(address);
    if (holding === undefined || holding.holder !== from || holding.sid !== sid) return;
    this.requeue(this.sessions.takeOutstanding(from, address));
    this.gone(address);
    this.settle(address);
    this.ctx.tableChanged();
  }

  dack(from: PeerId, gen: number, dseq: number): void {
    if (this.closed) return;
    const done = this.sessions.confirmed(from, gen, dseq);
    // Settled keeps the highest number per (origin, epoch, address): a run of one pair needs one call.
    let highest = 0;
    for (let i = 0; i < done.length; i++) {
      const { entry, address } = done[i]!;
      this.inFlight.delete(entry);
      highest = Math.max(highest, entry.seq);
      const next = done[i + 1];
      if (next === undefined || next.address !== address || next.entry.epoch !== entry.epoch || next.entry.origin !== entry.origin) {
        this.settled.settle(entry.origin, entry.epoch, address, highest);
        highest = 0;
      }
    }
  }

  /** The link to a member closed, or it left: its sessions are gone, what it did not confirm goes elsewhere. */
  peerDown(peer: PeerId): void {
    if (this.closed || peer === this.ctx.self || !this.sessions.reported(peer)) return;
    this.requeue(this.sessions.forget(peer));
    for (const address of this.sessions.heldBy(peer)) this.gone(address);
    for (const w of this.waiting.values()) if (w.waitingFor?.holder === peer) w.waitingFor = undefined;
    this.settleAll();
    this.ctx.tableChanged();
  }

  table(): WireTableEntry[] {
    return this.sessions.table();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.startupTimer);
    for (const w of this.waiting.values()) clearTimeout(w.timer);
    this.waiting.clear();
  }

  private get counters(): RouterCounters {
    return this.ctx.counters;
  }

  /** This node itself, or a member that reported in full since this node leads. */
  private knows(peer: PeerId): boolean {
    return peer === this.ctx.self || this.sessions.reported(peer);
  }

  private allReported(): boolean {
    for (const m of this.ctx.members()) if (!this.knows(m)) return false;
    return true;
  }

  private attachSession(from: PeerId, s: WireSession, delta: boolean): void {
    const address = s.address;
    const current = this.sessions.get(address);
    const holding: Holding = { holder: from, sid: s.sid, peer: s.peer, since: s.since };
    if (current === undefined || current.holder === from) {
      // A new session on the same member: deliveries to the old one are dropped there, so they go again.
      if (current !== undefined && current.sid !== s.sid) this.requeue(this.sessions.takeOutstanding(from, address));
      this.sessions.set(address, holding);
      return;
    }
    // The same address on two members: the newer session wins, cluster-wide, as on one node.
    // A delta is newer by arrival; in a full report (to a new leader) the later connection wins.
    if (!delta && s.since < current.since) {
      this.ctx.log.info({ event: 'component_replaced', component: address, node: current.holder }, 'an older session of the address ends');
      return this.ctx.replace(from, address, s.sid);
    }
    this.ctx.log.info({ event: 'component_replaced', component: address, from: current.holder, to: from }, 'a new connection on another member replaced the old one');
    this.sessions.set(address, holding);
    const w = this.waitingFor(address);
    w.waitingFor ??= { holder: current.holder, sid: current.sid };
    this.ctx.replace(current.holder, address, current.sid);
  }

  /** The address has no session now; it was seen, so it is held for graceMs from now. */
  private gone(address: string): void {
    this.sessions.delete(address);
    this.waitingFor(address).startup = false;
  }

  private waitingFor(address: string): Waiting {
    let w = this.waiting.get(address);
    if (w === undefined) {
      w = { pending: [], startup: false };
      this.waiting.set(address, w);
    }
    return w;
  }

  private enqueue(w: Waiting, entry: LeaderEntry): void {
    w.pending.push(entry);
    this.inFlight.add(entry);
  }

  /** Unconfirmed deliveries go back to the front of their address's queue, oldest first. */
  private requeue(deliveries: readonly Delivery[]): void {
    const byAddress = new Map<string, LeaderEntry[]>();
    for (const d of deliveries) {
      const list = byAddress.get(d.address);
      if (list === undefined) byAddress.set(d.address, [d.entry]);
      else list.push(d.entry);
    }
    for (const [address, entries] of byAddress) {
      const w = this.waitingFor(address);
      w.pending = [...entries, ...w.pending];
    }
  }

  private settleAll(): void {
    for (const address of [...this.waiting.keys()]) this.settle(address);
  }

  /** Moves an address's queue along: to its holder, or toward the grace bounce. */
  private settle(address: string): void {
    const w = this.waiting.get(address);
    if (w === undefined || w.waitingFor !== undefined) return;
    const holding = this.sessions.get(address);
    if (holding !== undefined) {
      clearTimeout(w.timer);
      this.waiting.delete(address);
      for (const entry of w.pending) {
        this.inFlight.delete(entry);
        this.deliver(entry, address, holding);
      }
      return;
    }
    if (w.startup || w.timer !== undefined) return;
    // One member: there is no other node to reconnect to; bounce as LocalRouter.
    if (this.ctx.members().size <= 1) return this.expire(address);
    w.timer = unrefTimer(() => this.expire(address), this.ctx.graceMs);
  }

  private endStartup(): void {
    this.startupOver = true;
    for (const [address, w] of [...this.waiting]) {
      if (w.startup && w.waitingFor === undefined && !this.sessions.get(address)) this.expire(address);
    }
  }

  private expire(address: string): void {
    if (this.closed) return;
    const w = this.waiting.get(address);
    if (w === undefined) return;
    this.waiting.delete(address);
    if (w.pending.length > 0) this.ctx.log.info({ event: 'grace_expired', component: address, stanzas: w.pending.length }, 'held stanzas bounced: the call bridge did not come back');
    for (const entry of w.pending) {
      this.inFlight.delete(entry);
      this.undeliverable(entry, address, 'service-unavailable');
    }
  }

  private deliver(entry: LeaderEntry, address: string, holding: Holding): void {
    if (!entry.counted) {
      entry.counted = true;
      this.counters.routed++;
    }
    if (holding.holder === this.ctx.self) {
      const route = this.ctx.localRoute(address, holding.sid);
      if (route === undefined) {
        // Not expected (local sessions report synchronously); hold rather than lose.
        this.ctx.log.warn({ event: 'cluster_route_missing', component: address }, 'the local session is gone; holding the stanza');
        this.gone(address);
        this.enqueue(this.waitingFor(address), entry);
        return this.settle(address);
      }
      this.settled.settle(entry.origin, entry.epoch, address, entry.seq);
      return this.ctx.write(route, entry, address);
    }
    const numbered = this.sessions.record(holding.holder, { entry, address });
    if (numbered === undefined) throw new Error(`invariant: ${holding.holder} holds ${address} without a report`);
    this.inFlight.add(entry);
    const { stanza } = entry;
    // Unsent (the link just closed): it stays outstanding and goes again at peerDown or the next report.
    this.ctx.send(holding.holder, { t: 'dlv', gen: numbered.gen, dseq: numbered.dseq, origin: entry.origin, epoch: entry.epoch, seq: entry.seq, to: address, sid: holding.sid, raw: stanzaText(stanza) });
  }

  private undeliverable(entry: LeaderEntry, key: string, condition: StanzaErrorCondition): void {
    const reply = bounceFor(entry.stanza, condition);
    if (reply === null) {
      this.counters.dropped++;
      this.ctx.log.debug({ event: 'undeliverable_dropped', to: entry.stanza.attrs.to, type: entry.stanza.attrs.type }, 'undeliverable stanza dropped (no error for an error or result)');
    } else {
      this.counters.bounced++;
      countBounce(this.ctx.bounces, condition);
    }
    this.finish(entry, key, reply);
  }

  private finish(entry: LeaderEntry, key: string, reply: string | null): void {
    this.settled.settle(entry.origin, entry.epoch, key, entry.seq);
    this.ctx.settle(entry, reply);
  }
}

/** (origin, epoch, seq) of entries, without building a key string per stanza. */
class InFlight {
  private readonly byOrigin = new Map<PeerId, Map<string, Set<number>>>();
  /** The incarnation looked up last: a run of one origin's stanzas skips two lookups each. */
  private last: { origin: PeerId; epoch: string; seqs: Set<number> } | undefined;

  has(e: LeaderEntry): boolean {
    return this.seqsOf(e)?.has(e.seq) ?? false;
  }

  add(e: LeaderEntry): void {
    let seqs = this.seqsOf(e);
    if (seqs === undefined) {
      let epochs = this.byOrigin.get(e.origin);
      if (epochs === undefined) {
        epochs = new Map();
        this.byOrigin.set(e.origin, epochs);
      }
      seqs = new Set();
      epochs.set(e.epoch, seqs);
      this.last = { origin: e.origin, epoch: e.epoch, seqs };
    }
    seqs.add(e.seq);
  }

  delete(e: LeaderEntry): void {
    const seqs = this.seqsOf(e);
    if (seqs === undefined || !seqs.delete(e.seq) || seqs.size > 0) return;
    // Nothing left of that incarnation: forget it, so old epochs do not pile up.
    if (this.last?.seqs === seqs) this.last = undefined;
    const epochs = this.byOrigin.get(e.origin)!;
    epochs.delete(e.epoch);
    if (epochs.size === 0) this.byOrigin.delete(e.origin);
  }

  private seqsOf(e: LeaderEntry): Set<number> | undefined {
    const last = this.last;
    if (last !== undefined && last.epoch === e.epoch && last.origin === e.origin) return last.seqs;
    const seqs = this.byOrigin.get(e.origin)?.get(e.epoch);
    if (seqs !== undefined) this.last = { origin: e.origin, epoch: e.epoch, seqs };
    return seqs;
  }
}

function unrefTimer(fn: () => void, ms: number): NodeJS.Timeout {
  const t = setTimeout(fn, ms);
  t.unref();
  return t;
}
