import { pino } from 'pino';
import { ClusterRouter, type ClusterRouterOptions } from '../../../cluster/routing/cluster-router.js';
import { forEachRoutingMessage, type RoutingMessage } from '../../../cluster/routing/routing-messages.js';
import { MemoryNetwork, type MemoryTransport } from '../../../cluster/transport/memory-transport.js';
import type { PeerEndpoint, PeerId } from '../../../cluster/transport/transport.js';
import type { Stanza } from '../../../src/router/router.js';
import { Condition } from '../../helpers/condition.js';
import { MemoryRoute, stanza } from '../../router/memory-route.js';

export const DOMAIN = 'example.test';
/** The two call bridges most tests use. */
export const A = `a.${DOMAIN}`;
export const B = `b.${DOMAIN}`;
const log = pino({ level: 'silent' });

/** A MemoryRoute that tells the cluster's condition whenever it is given something or held. */
export class WatchedRoute extends MemoryRoute {
  constructor(
    address: string,
    private readonly changes: Condition,
  ) {
    super(address);
  }

  override deliver(raw: string): boolean {
    const ok = super.deliver(raw);
    this.changes.changed();
    return ok;
  }

  override replaced(): void {
    super.replaced();
    this.changes.changed();
  }

  override release(reason: object): void {
    super.release(reason);
    this.changes.changed();
  }

  /** The numbers of the test messages received (`id='m<n>'`), in order. */
  numbers(): number[] {
    const out: number[] = [];
    for (const raw of this.received) {
      const m = /id='m(\d+)'/.exec(raw);
      if (m && !raw.includes(`type='error'`)) out.push(Number(m[1]));
    }
    return out;
  }

  /** The stanza error conditions received, in order. */
  errors(): string[] {
    const out: string[] = [];
    for (const raw of this.received) {
      const m = /<error[^>]*><([a-z-]+)/.exec(raw);
      if (m) out.push(m[1]!);
    }
    return out;
  }
}

export interface Member {
  readonly id: PeerId;
  readonly transport: MemoryTransport;
  readonly router: ClusterRouter;
}

/** A test message from `from` to `to` numbered `n`. */
export function message(from: string, to: string, n: number): Stanza {
  return stanza(`<message from='${from}' to='${to}' id='m${n}'><body>${n}</body></message>`);
}

/**
 * Routers of a cluster on an in-memory network, fully linked: n1, n2, n3...
 * Every frame and every delivery to a session wakes the waits (`until`), so
 * tests wait on events, never on time.
 */
export class RoutingCluster {
  readonly network = new MemoryNetwork();
  readonly changes = new Condition();
  readonly members: Member[] = [];

  /** `older`: members whose hello lists no router features, as a release before batch frames. */
  static async start(size: number, options: Partial<ClusterRouterOptions> = {}, older: readonly PeerId[] = []): Promise<RoutingCluster> {
    const cluster = new RoutingCluster();
    const endpoints = new Map<PeerId, PeerEndpoint>();
    for (let i = 1; i <= size; i++) endpoints.set(`n${i}`, { host: `127.0.0.${i}`, port: 5999 });
    for (const [id, endpoint] of endpoints) {
      const features = older.includes(id) ? {} : { features: ClusterRouter.features };
      const transport = cluster.network.transport({ id, name: `cb${id.slice(1)}`, endpoint, ...features });
      const router = new ClusterRouter({ self: id, domain: () => DOMAIN, log, transport, ...options });
      router.setMembers(endpoints.keys());
      // After the router's handler: the wait sees what the frame changed.
      transport.on('frame', () => cluster.changes.changed());
      transport.on('linkDown', () => cluster.changes.changed());
      cluster.members.push({ id, transport, router });
    }
    for (const m of cluster.members) await m.transport.start();
    for (const m of cluster.members) m.transport.setPeers(endpoints);
    return cluster;
  }

  member(id: PeerId): Member {
    const m = this.members.find((x) => x.id === id);
    if (m === undefined) throw new Error(`no member ${id}`);
    return m;
  }

  router(id: PeerId): ClusterRouter {
    return this.member(id).router;
  }

  /** A call bridge's session on a member; `ready` is the router's go-ahead (its <handshake/>). */
  session(on: PeerId, name: string, ready?: () => void): WatchedRoute {
    const route = new WatchedRoute(`${name}.${DOMAIN}`, this.changes);
    this.router(on).attach(route, ready);
    return route;
  }

  /** Call bridge a on n2 and b on n3, n1 leading, and stanzas 1..`delivered` from a already at b. */
  async bridgesWithDelivered(delivered: number): Promise<{ a: WatchedRoute; b: WatchedRoute }> {
    const a = this.session('n2', 'a');
    const b = this.session('n3', 'b');
    this.setLeader('n1');
    await pump(this, 'n2', a, B, 1, delivered);
    await this.until(() => b.numbers().length === delivered, describeReceived(b));
    return { a, b };
  }

  /** Tells the given members (default all that are up) who leads. */
  setLeader(leader: PeerId | undefined, on: PeerId[] = this.live().map((m) => m.id)): void {
    for (const id of on) this.router(id).setLeader(leader);
    this.changes.changed();
  }

  /** The member's process dies: its links reset at once, its router is gone. */
  async crash(id: PeerId): Promise<void> {
    const m = this.member(id);
    m.router.close();
    await m.transport.close();
    this.members.splice(this.members.indexOf(m), 1);
  }

  live(): Member[] {
    return this.members;
  }

  until(holds: () => boolean, describe: () => string, timeoutMs = 10_000): Promise<void> {
    return this.changes.until(holds, timeoutMs, describe);
  }

  /** Every live member has nothing unconfirmed. */
  async settled(): Promise<void> {
    await this.until(
      () => this.members.every((m) => m.router.unconfirmed().stanzas === 0),
      () => `unconfirmed: ${this.members.map((m) => `${m.id}=${m.router.unconfirmed().stanzas}`).join(' ')}`,
    );
  }

  async close(): Promise<void> {
    for (const m of [...this.members]) await this.crash(m.id);
  }
}

/** Yields to the event loop once (the in-memory links deliver on the next turn): not a sleep. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Sends stanzas from..to of `route` to `to`, a few per turn of the event loop, so some are always in flight. */
export async function pump(cl: RoutingCluster, on: string, route: WatchedRoute, to: string, from: number, upTo: number, perTurn = 10, during?: (n: number) => Promise<void> | void): Promise<void> {
  for (let n = from; n <= upTo; n++) {
    cl.router(on).route(message(route.address, to, n), route);
    if (n % perTurn === 0) {
      await during?.(n);
      await turn();
    }
  }
}

export function describeReceived(route: WatchedRoute): () => string {
  return () => `${route.address} has ${route.numbers().length}: …${route.numbers().slice(-5).join(',')}; errors ${route.errors().join(',')}`;
}

/** Runs `fn` once, right after `on` has handled the first routing message that matches. */
export function afterFrame(cl: RoutingCluster, on: string, matches: (m: RoutingMessage) => boolean, fn: () => void): void {
  let done = false;
  cl.member(on).transport.on('frame', (_from, kind, payload) => {
    if (done || kind !== 'stanza') return;
    let matched = false;
    // A batch frame counts when any message in it matches.
    forEachRoutingMessage(payload, (m) => (matched ||= matches(m)));
    if (!matched) return;
    done = true;
    fn();
  });
}
