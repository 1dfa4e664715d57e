/**
 * The status page's chart: stanzas per second over the last minutes, from
 * the router's plain counters sampled on a timer the wiring owns (nothing
 * is added to the hot path). A ring of `capacity` samples: with one sample
 * a second, 300 is five minutes.
 */

export interface RateTotals {
  /** Stanzas this node handed to a route (on a cluster's leader: every stanza the cluster routes). */
  readonly routed: number;
  /** Stanza frames to and from peer nodes (a follower's share of the traffic). */
  readonly forwarded: number;
}

export interface RateSample {
  /** ms since the epoch, the end of the interval. */
  readonly at: number;
  readonly routed: number;
  readonly forwarded: number;
}

export const DEFAULT_RATE_SAMPLES = 300;

export class StanzaRate {
  private readonly ring: RateSample[] = [];
  private next = 0;
  private last: { at: number; totals: RateTotals } | undefined;

  constructor(readonly capacity = DEFAULT_RATE_SAMPLES) {}

  /** Records the totals as of `now`; from the second call on, each adds the rate since the one before. */
  sample(now: number, totals: RateTotals): void {
    const last = this.last;
    this.last = { at: now, totals: { routed: totals.routed, forwarded: totals.forwarded } };
    if (!last || now <= last.at) return;
    const seconds = (now - last.at) / 1000;
    // A counter that went down belongs to a new router (the node was reset): no rate for that interval.
    const rate = (a: number, b: number) => (b >= a ? (b - a) / seconds : 0);
    const s: RateSample = { at: now, routed: rate(last.totals.routed, totals.routed), forwarded: rate(last.totals.forwarded, totals.forwarded) };
    if (this.ring.length < this.capacity) this.ring.push(s);
    else this.ring[this.next] = s;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Oldest first. */
  series(): RateSample[] {
    if (this.ring.length < this.capacity) return [...this.ring];
    return [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
  }
}
