/**
 * What this node knows of each peer's liveness, taken at the transport's
 * events (the member layer is the I/O edge, so wall-clock times are read
 * here): when a frame last arrived from it, whether its link is up and since
 * when it is down; plus the leader's view of every member's match index and
 * contact, which followers cannot see for themselves (they only talk to the
 * leader) and receive in `cluster-view` messages.
 */
import type { ViewEntry } from './control-messages.js';

export interface PeerActivityView {
  readonly lastContact: Date | null;
  readonly unreachableSince: Date | null;
  readonly linkUp: boolean;
}

export interface LeaderView {
  readonly from: string;
  readonly term: number;
  readonly receivedAt: number;
  readonly members: ReadonlyMap<string, ViewEntry>;
}

interface Activity {
  lastFrame: number | null;
  downSince: number | null;
  up: boolean;
}

export class PeerActivity {
  private readonly peers = new Map<string, Activity>();
  private view: LeaderView | undefined;
  private readonly createdAt = Date.now();

  frame(peer: string): void {
    const a = this.entry(peer);
    a.lastFrame = Date.now();
  }

  linkUp(peer: string): void {
    const a = this.entry(peer);
    a.up = true;
    a.downSince = null;
  }

  linkDown(peer: string): void {
    const a = this.entry(peer);
    if (a.up || a.downSince === null) a.downSince = Date.now();
    a.up = false;
  }

  isUp(peer: string): boolean {
    return this.peers.get(peer)?.up ?? false;
  }

  /** How long ago a frame arrived from `peer`, for the leader's cluster-view. */
  agoMs(peer: string, now = Date.now()): number | null {
    const t = this.peers.get(peer)?.lastFrame ?? null;
    return t === null ? null : Math.max(0, now - t);
  }

  of(peer: string): PeerActivityView {
    const a = this.peers.get(peer);
    // A peer never linked counts as unreachable since this node started looking.
    if (!a) return { lastContact: null, unreachableSince: new Date(this.createdAt), linkUp: false };
    return {
      lastContact: a.lastFrame === null ? null : new Date(a.lastFrame),
      unreachableSince: a.up ? null : new Date(a.downSince ?? this.createdAt),
      linkUp: a.up,
    };
  }

  acceptView(from: string, term: number, members: readonly ViewEntry[]): void {
    this.view = { from, term, receivedAt: Date.now(), members: new Map(members.map((m) => [m.id, m])) };
  }

  /** The last view from `leader` in `term`, if any: an older leader's view is not shown. */
  leaderView(leader: string, term: number): LeaderView | undefined {
    const v = this.view;
    return v && v.from === leader && v.term === term ? v : undefined;
  }

  forget(peer: string): void {
    this.peers.delete(peer);
  }

  private entry(peer: string): Activity {
    let a = this.peers.get(peer);
    if (!a) {
      a = { lastFrame: null, downSince: null, up: false };
      this.peers.set(peer, a);
    }
    return a;
  }
}
