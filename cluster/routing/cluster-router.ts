import type { Logger } from '../../src/observability/logger.js';
import type { BounceCounts, RemoteRoutes, Route, Router, RouterCounters, Stanza } from '../../src/router/router.js';
import type { PeerId, Transport } from '../transport/transport.js';
import { AttachWaits } from './attach-waits.js';
import type { ClusterSessionInfo, ForwardedCounters } from './cluster-sessions.js';
import { DedupWindow } from './dedup-window.js';
import { LeaderRouting, type LeaderContext } from './leader-routing.js';
import type { LeaderEntry } from './leader-sessions.js';
import { DEFAULT_UNACKED_LIMITS, OriginBuffer, type OriginEntry, type UnackedLimits } from './origin-buffer.js';
import { PeerOutbox } from './peer-outbox.js';
import { RouteWriter } from './route-writer.js';
import { destinationKey, isComponentOf } from './undeliverable.js';
import { forEachRoutingMessage, ROUTING_BATCHES, ROUTING_LEAN, RoutingMessageError, type RoutingMessage, type WireSession, type WireTableEntry } from './routing-messages.js';

export const DEFAULT_GRACE_MS = 10_000;
/** At most this long a new session waits for the leader to know it before its call bridge is let in (attach-waits.ts). */
const ATTACH_WAIT_MS = 2_000;

export interface ClusterRouterOptions {
  self: PeerId;
  /** The XMPP domain served; a function because `xmpp domain` may change it. */
  domain: () => string;
  log: Logger;
  /** The peer links; the router's messages are its `stanza` frames. */
  transport: Transport;
  /** Federation's routes to other domains, used where this node leads. */
  remote?: RemoteRoutes;
  /** How long the leader holds stanzas for a call bridge that went away (default 10 s). */
  graceMs?: number;
  /** Bounds of the unconfirmed stanzas of this node's sessions; over either, senders are held. */
  maxUnacked?: Partial<UnackedLimits>;
}

/** A route that can say who is on the other end: ComponentSession does. */
interface DescribedRoute extends Route {
  info?(): { readonly peer: string; readonly since: Date };
}

interface LocalSession {
  readonly route: Route;
  readonly wire: WireSession;
}

/**
 * The Router of a cluster member. Every stanza of this node's sessions goes
 * to the Raft leader (`setLeader`), which routes it as LocalRouter would, over
 * the sessions of all members; this node writes what the leader sends it to
 * its sessions. Nothing a surviving member accepted is lost or written twice
 * when the leader changes: each stanza stays in this node's OriginBuffer until
 * the member that wrote it confirms, and goes again, in order, to the next
 * leader; holders drop copies (DedupWindow).
 *
 * Each member reports its sessions to the leader (in full to a new leader,
 * then each change); the leader keeps that soft state and sends everyone the
 * table, so `sessions()` lists the whole cluster. With one member (itself the
 * leader) everything happens synchronously, exactly as LocalRouter.
 */
export class ClusterRouter implements Router {
  /** What the router speaks beyond the protocol version, for the node's hello (PeerHello.features). */
  static readonly features: readonly string[] = [ROUTING_BATCHES, ROUTING_LEAN];
  readonly counters: RouterCounters = { routed: 0, bounced: 0, dropped: 0, answered: 0 };
  readonly bounces: BounceCounts = {};
  /** Stanza frames this node sent to and took from peers (`fwd` to the leader, `dlv` from it), resends included; read by the metrics endpoint. */
  readonly forwarded: ForwardedCounters = { toPeers: 0, fromPeers: 0 };
  private readonly self: PeerId;
  private readonly log: Logger;
  private readonly transport: Transport;
  private readonly buffer: OriginBuffer;
  private readonly outbox: PeerOutbox;
  private readonly writer: RouteWriter;
  private readonly leaderContext: LeaderContext;
  private readonly locals = new Map<string, LocalSession>();
  private nextSid = 1;
  private readonly attachWaits = new AttachWaits(ATTACH_WAIT_MS);
  private members: Set<PeerId>;
  private leader: PeerId | undefined;
  private leading: LeaderRouting | undefined;
  /** The leader this node last reported to in full, and that report's generation: deliveries are taken from it only. */
  private reportedTo: PeerId | undefined;
  private gen = 0;
  /** The table the leader last sent. */
  private clusterTable: readonly WireTableEntry[] = [];
  private tableScheduled = false;
  private closed = false;
  /** Told when the origin buffer empties, while settle() waits for it. */
  private emptied: (() => void) | undefined;

  constructor(options: ClusterRouterOptions) {
    this.self = options.self;
    this.log = options.log;
    this.transport = options.transport;
    this.members = new Set([options.self]);
    this.buffer = new OriginBuffer({ ...DEFAULT_UNACKED_LIMITS, ...options.maxUnacked });
    this.outbox = new PeerOutbox(options.transport, options.log);
    this.writer = new RouteWriter({
      self: options.self,
      dedup: new DedupWindow(),
      outbox: this.outbox,
      localEntry: (epoch, seq) => (epoch === this.buffer.epoch ? this.buffer.get(seq) : undefined),
      settleLocal: (epoch, seq) => void this.settleLocal(epoch, seq),
    });
    this.leaderContext = {
      self: options.self,
      domain: options.domain,
      log: options.log,
      remote: options.remote,
      graceMs: options.graceMs ?? DEFAULT_GRACE_MS,
      counters: this.counters,
      bounces: this.bounces,
      members: () => this.members,
      localRoute: (address, sid) => {
        const local = this.locals.get(address);
        return local !== undefined && local.wire.sid === sid ? local.route : undefined;
      },
      write: (route, e, destination) => this.writer.write(route, e.stanza.raw, e.origin, e.epoch, e.seq, destination),
      settle: (e, reply) => this.settled(e, reply),
      send: (peer, message) => {
        if (message.t === 'dlv') this.forwarded.toPeers++;
        return this.outbox.send(peer, message);
      },
      replace: (holder, address, sid) => (holder === this.self ? this.replaceLocal(address, sid) : void this.outbox.send(holder, { t: 'replaced', address, sid })),
      tableChanged: () => this.scheduleTable(),
    };
    this.transport.on('frame', (from, kind, payload) => {
      if (kind === 'stanza' && !this.closed) this.onFrame(from, payload);
    });
    this.transport.on('linkUp', (peer) => {
      this.outbox.setFeatures(peer.id, peer.features ?? []);
      this.onLinkUp(peer.id);
    });
    this.transport.on('linkDown', (peer) => this.leading?.peerDown(peer));
  }

  attach(route: Route, ready?: () => void): void {
    const old = this.locals.get(route.address);
    if (old?.route === route) return ready?.();
    const info = (route as DescribedRoute).info?.();
    const wire: WireSession = { address: route.address, sid: this.nextSid++, peer: info?.peer ?? '', since: (info?.since ?? new Date()).getTime() };
    this.locals.set(route.address, { route, wire });
    if (old !== undefined) {
      this.log.info({ event: 'component_replaced', component: route.address }, 'a new connection replaced the old one');
      old.route.replaced();
    }
    if (this.leading) {
      this.leading.attach(this.self, wire);
      ready?.();
    } else {
      if (ready) this.attachWaits.add(route.address, wire.since, ready);
      this.toLeader({ t: 'attach', session: wire });
    }
  }

  detach(route: Route): void {
    const local = this.locals.get(route.address);
    if (local?.route !== route) return;
    this.locals.delete(route.address);
    this.attachWaits.drop(route.address);
    this.reportDetach(route.address, local.wire.sid);
  }

  route(stanza: Stanza, origin: Route): void {
    this.forward(this.buffer.add(stanza, origin));
  }

  /** The Raft leader now (this node included), or undefined while there is none. */
  setLeader(id: PeerId | undefined): void {
    if (id === this.leader || this.closed) return;
    this.leader = id;
    if (this.leading !== undefined && id !== this.self) {
      this.leading.close();
      this.leading = undefined;
    }
    if (id === undefined) return;
    if (id === this.self) {
      this.reportedTo = this.self;
      this.leading = new LeaderRouting(this.leaderContext, [...this.locals.values()].map((l) => l.wire));
      this.attachWaits.releaseAll();
      // Members that took us for leader before we knew report again.
      for (const peer of this.transport.connected()) this.outbox.send(peer, { t: 'hello' });
      this.resend();
      this.scheduleTable();
      return;
    }
    this.reportAndResend(id);
  }

  /** The cluster's members, this node included. */
  setMembers(ids: Iterable<PeerId>): void {
    const next = new Set([...ids, this.self]);
    const gone = [...this.members].filter((m) => !next.has(m));
    this.members = next;
    for (const peer of gone) this.leading?.peerDown(peer);
  }

  /** Every call-bridge session of the cluster with the member it is on, by address. */
  sessions(): ClusterSessionInfo[] {
    const table = this.leading ? this.leading.table() : this.clusterTable;
    const rows = table.filter((row) => row.node !== this.self);
    for (const { wire } of this.locals.values()) rows.push({ address: wire.address, node: this.self, peer: wire.peer, since: wire.since });
    return rows
      .sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0))
      .map((row) => ({ address: row.address, node: row.node, peer: row.peer, since: new Date(row.since) }));
  }

  /** Stanzas of this node's sessions not yet confirmed, and how many senders are held for it. */
  unconfirmed(): { stanzas: number; bytes: number; heldSenders: number } {
    return { stanzas: this.buffer.size, bytes: this.buffer.bytes, heldSenders: this.buffer.holding };
  }

  /**
   * SIGTERM, once this node's call bridges left: resolves when every stanza
   * they sent is confirmed (written by its holder, or settled by the leader),
   * or after `timeoutMs`, with how many are not. The confirmations this node
   * owes its peers go out now, before the links close: a lost one would make
   * the leader deliver a written stanza again.
   */
  async settle(timeoutMs: number): Promise<number> {
    if (this.buffer.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => this.emptied?.(), timeoutMs);
        this.emptied = () => {
          clearTimeout(timer);
          this.emptied = undefined;
          resolve();
        };
      });
    }
    this.outbox.flushAll();
    return this.buffer.size;
  }

  /** Stops timers and sending; the transport is the caller's to close. */
  close(): void {
    this.closed = true;
    this.leading?.close();
    this.leading = undefined;
    this.outbox.close();
  }

  private forward(entry: OriginEntry): void {
    if (this.leading) this.leading.forward(this.leaderEntry(this.self, this.buffer.epoch, entry.seq, entry.stanza));
    else if (this.leader !== undefined) {
      this.forwarded.toPeers++;
      const { stanza } = entry;
      const domain = this.leaderContext.domain();
      // For a component of ours the leader needs no attribute unless it bounces the stanza; but it
      // reads an iq answer's id and type, which may be the pong to a federation ping (LeaderRouting.forward).
      const answer = stanza.name === 'iq' && stanza.attrs.type !== 'get' && stanza.attrs.type !== 'set';
      const headOnly = !answer && isComponentOf(destinationKey(stanza.toDomain, domain), domain);
      this.outbox.send(this.leader, { t: 'fwd', epoch: this.buffer.epoch, seq: entry.seq, stanza, headOnly });
    }
    // No leader: it waits in the buffer and goes when one is known.
  }

  /** Everything unconfirmed, oldest first, to the leader: it and the holders drop what they have already. */
  private resend(): void {
    for (const entry of [...this.buffer.unconfirmed()]) {
      if (this.buffer.get(entry.seq) !== undefined) this.forward(entry);
    }
  }

  private reportAndResend(leader: PeerId): void {
    this.reportedTo = leader;
    this.gen++;
    this.outbox.send(leader, { t: 'report', gen: this.gen, sessions: [...this.locals.values()].map((l) => l.wire) });
    this.resend();
  }

  private toLeader(message: RoutingMessage): void {
    // Deltas follow a full report to the same leader; until then the report will carry them.
    if (this.leader !== undefined && this.leader === this.reportedTo) this.outbox.send(this.leader, message);
  }

  private reportDetach(address: string, sid: number): void {
    if (this.leading) this.leading.detach(this.self, address, sid);
    else this.toLeader({ t: 'detach', address, sid });
  }

  /** The leader says a newer session of the address is elsewhere: end ours with `<conflict/>`. */
  private replaceLocal(address: string, sid: number): void {
    const local = this.locals.get(address);
    if (local !== undefined && local.wire.sid === sid) {
      this.locals.delete(address);
      this.log.info({ event: 'component_replaced', component: address }, 'a new connection on another member replaced this one');
      local.route.replaced();
    }
    // Answered even when the session had ended already: the leader waits for it.
    this.reportDetach(address, sid);
  }

  private onLinkUp(peer: PeerId): void {
    if (this.closed) return;
    if (this.leading) {
      this.outbox.send(peer, { t: 'hello' });
      this.scheduleTable();
    } else if (peer === this.leader) {
      return this.reportAndResend(peer);
    }
    // A confirmation may have been lost on the link that was down: resend, copies are dropped.
    this.resend();
  }

  private onFrame(from: PeerId, payload: Uint8Array): void {
    try {
      forEachRoutingMessage(payload, (m) => this.onMessage(from, m));
    } catch (err) {
      if (!(err instanceof RoutingMessageError)) throw err;
      this.log.warn({ event: 'cluster_route_malformed', peer: from, reason: err.message }, 'malformed routing message dropped');
    }
  }

  private onMessage(from: PeerId, m: RoutingMessage): void {
    switch (m.t) {
      case 'fwd':
        this.forwarded.fromPeers++;
        return this.leading?.forward(this.leaderEntry(from, m.epoch, m.seq, m.stanza));
      case 'dlv':
        this.forwarded.fromPeers++;
        return this.onDeliver(from, m);
      case 'ack':
        for (const seq of m.seqs) this.settleLocal(m.epoch, seq);
        return;
      case 'reply':
        this.settleLocal(m.epoch, m.seq)?.route.deliver(m.raw);
        return;
      case 'dack':
        return this.leading?.dack(from, m.gen, m.dseq);
      case 'report':
        return this.leading?.report(from, m.gen, m.sessions);
      case 'attach':
        return this.leading?.attach(from, m.session);
      case 'detach':
        return this.leading?.detach(from, m.address, m.sid);
      case 'replaced':
        if (from === this.leader) this.replaceLocal(m.address, m.sid);
        return;
      case 'table':
        if (from !== this.leader) return;
        this.clusterTable = m.sessions;
        this.attachWaits.table(this.self, m.sessions);
        return;
      case 'hello':
        if (from === this.leader && !this.leading) this.reportAndResend(from);
        return;
    }
  }

  private onDeliver(from: PeerId, m: Extract<RoutingMessage, { t: 'dlv' }>): void {
    // Only the leader we reported to, in that report's generation: a deposed
    // leader's late deliveries would come out of order (its stanzas went again
    // through the new leader).
    if (this.leading || from !== this.reportedTo || m.gen !== this.gen) {
      this.log.debug({ event: 'cluster_delivery_stale', peer: from, gen: m.gen }, 'delivery from a former leader or report dropped');
      return;
    }
    this.outbox.dack(from, m.gen, m.dseq);
    const local = this.locals.get(m.to);
    // The session ended or was replaced here: the leader sends it again where the address is now.
    if (local === undefined || local.wire.sid !== m.sid) {
      this.log.debug({ event: 'cluster_delivery_unheld', component: m.to }, 'delivery for a session that ended here; the leader sends it again');
      return;
    }
    this.writer.write(local.route, typeof m.raw === 'string' ? m.raw : Buffer.from(m.raw).toString('utf8'), m.origin, m.epoch, m.seq, m.to);
  }

  private settleLocal(epoch: string, seq: number): OriginEntry | undefined {
    const entry = epoch === this.buffer.epoch ? this.buffer.take(seq) : undefined;
    if (entry !== undefined && this.buffer.size === 0) this.emptied?.();
    return entry;
  }

  /** The leader settled a stanza without a holder: answered, bounced, dropped, or handed to a remote route. */
  private settled(e: LeaderEntry, reply: string | null): void {
    if (e.origin === this.self) {
      const entry = this.settleLocal(e.epoch, e.seq);
      // A full queue holds the sender by itself (Route.deliver), as in LocalRouter.
      if (entry !== undefined && reply !== null) entry.route.deliver(reply);
    } else if (reply !== null) this.outbox.send(e.origin, { t: 'reply', epoch: e.epoch, seq: e.seq, raw: reply });
    else this.outbox.ack(e.origin, e.epoch, e.seq);
  }

  private leaderEntry(origin: PeerId, epoch: string, seq: number, stanza: Stanza): LeaderEntry {
    return { origin, epoch, seq, stanza, counted: false };
  }

  /** Once per turn of the event loop, however many changes: the whole table to every linked member. */
  private scheduleTable(): void {
    if (this.tableScheduled || this.transport.connected().length === 0) return;
    this.tableScheduled = true;
    setImmediate(() => {
      this.tableScheduled = false;
      if (this.closed || !this.leading) return;
      const sessions = this.leading.table();
      for (const peer of this.transport.connected()) this.outbox.send(peer, { t: 'table', sessions });
    });
  }
}
