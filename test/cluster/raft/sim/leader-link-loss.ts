/**
 * What the cluster wiring does when a follower's TCP link to its leader
 * closes: `forgetLeader()`, then after a small random delay `campaign()` if
 * it still knows no leader (cluster/raft/README.md). The simulator has no
 * sockets, so a link closes when a chaos action cuts it (a partition, or a
 * one-way cut: TCP notices either direction) or kills the node at its far
 * end; and now and then a healthy link resets for no reason, which is the
 * slow-link case that must never depose a leader the others still hear.
 */
import { NO_NODE, type NodeId } from '../../../../cluster/raft/messages.js';
import { Mulberry32, deriveSeed, type RandomSource } from '../../../../cluster/raft/prng.js';
import { TICK, type Simulation } from './simulation.js';

const FAST_TICKS = 4;
/**
 * The wiring's random delay before campaigning: spread well beyond a message's
 * delay here (up to 12 units), as tens of milliseconds are beyond a LAN round
 * trip, so that usually one follower campaigns first and wins before the
 * others' delays run out, rather than all splitting the vote.
 */
const CAMPAIGN_SPREAD = 3 * TICK;

export interface LinkLossStats {
  readonly leaderForgets: number;
  readonly linkLossCampaigns: number;
  /** Campaigns that won the next term within FAST_TICKS: failover without waiting for an election timeout. */
  readonly fastFailovers: number;
}

export class LeaderLinkLoss {
  private readonly random: RandomSource;
  private forgets = 0;
  private campaigns = 0;
  private fast = 0;

  constructor(
    private readonly sim: Simulation,
    seed: number,
    /** Whether the wiring campaigns after forgetting (only with pre-vote, which keeps a wrong guess harmless). */
    private readonly campaignAfter: boolean,
  ) {
    this.random = new Mulberry32(deriveSeed(seed, 'leader-link-loss'));
  }

  stats(): LinkLossStats {
    return { leaderForgets: this.forgets, linkLossCampaigns: this.campaigns, fastFailovers: this.fast };
  }

  /** After a chaos action: every live follower whose leader is now down or cut off sees its link close. */
  afterChaos(): void {
    const sim = this.sim;
    for (const host of sim.hosts.values()) {
      const leader = host.node?.status().leader ?? NO_NODE;
      if (leader === NO_NODE || leader === host.id) continue;
      const net = sim.network;
      if (sim.isLive(leader) && !net.isBlocked(leader, host.id) && !net.isBlocked(host.id, leader)) continue;
      this.linkClosed(host.id, leader);
    }
    // A reset on a healthy link: the follower is wrong about its leader being gone.
    if (this.random.next() < 0.15) {
      const followers = [...sim.hosts.values()].filter((h) => h.node && h.node.status().role === 'follower' && h.node.status().leader !== NO_NODE);
      const pick = followers[this.random.int(followers.length)];
      if (pick) this.linkClosed(pick.id, pick.node!.status().leader);
    }
  }

  private linkClosed(id: NodeId, leader: NodeId): void {
    const sim = this.sim;
    const incarnation = sim.hosts.get(id)!.incarnation;
    const current = () => {
      const host = sim.hosts.get(id)!;
      return host.node && host.incarnation === incarnation ? host : undefined;
    };
    // TCP hands over what was sent before the reset first: the close is noticed after the link's
    // usual delay (a slow message may still come later and re-teach the leader, which is fine).
    sim.at(sim.network.faults.maxDelay + this.random.int(TICK / 2), () => {
      const host = current();
      // The wiring acts on the link to the leader it knows now; a newer leader's link is another link.
      if (!host || host.node!.status().leader !== leader) return;
      host.node!.forgetLeader();
      this.forgets++;
      sim.note(`${id} link to leader ${leader} closed: forgetLeader`);
      sim.scheduleReady(host);
      if (!this.campaignAfter || this.random.next() < 0.3) return;
      sim.at(1 + this.random.int(CAMPAIGN_SPREAD), () => {
        const again = current();
        if (!again || again.node!.status().leader !== NO_NODE) return;
        const term = again.node!.status().term;
        again.node!.campaign();
        this.campaigns++;
        sim.note(`${id} campaigns after losing ${leader}`);
        sim.scheduleReady(again);
        // Two round trips (pre-vote, vote) of up to a tick or so each; an election timeout is 10 to 20 ticks.
        sim.at(FAST_TICKS * TICK, () => {
          const st = current()?.node!.status();
          if (st?.role === 'leader' && st.term === term + 1) this.fast++;
        });
      });
    });
  }
}
