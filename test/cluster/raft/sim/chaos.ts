/**
 * One seeded chaos run: clients propose through random nodes while the
 * network drops, duplicates, delays and partitions, nodes crash and restart,
 * leadership moves and (optionally) membership changes. Then everything heals
 * and the run must elect a leader within a bound and apply every
 * acknowledged proposal on every live member. A failure names its seed.
 */
import { ConfChangeRejectedError, ProposalDroppedError } from '../../../../cluster/raft/errors.js';
import type { NodeId } from '../../../../cluster/raft/messages.js';
import type { RaftNode } from '../../../../cluster/raft/raft-node.js';
import { describeRun, type ChaosOptions, type ChaosResult, type ChaosStats } from './chaos-options.js';
import { InvariantViolation } from './checker.js';
import { LeaderLinkLoss } from './leader-link-loss.js';
import type { NetworkFaults } from './network.js';
import { Simulation, TICK } from './simulation.js';

export { describeRun, type ChaosOptions, type ChaosResult, type ChaosStats } from './chaos-options.js';

export const CHAOS_FAULTS: NetworkFaults = { dropRate: 0.05, duplicateRate: 0.03, minDelay: 1, maxDelay: 12, slowRate: 0.03, longDelay: 60 };
const STORM_FAULTS: NetworkFaults = { dropRate: 0.05, duplicateRate: 0.05, minDelay: 1, maxDelay: 20, slowRate: 0.2, longDelay: 80 };
const HEALED_FAULTS: NetworkFaults = { dropRate: 0, duplicateRate: 0, minDelay: 1, maxDelay: 8, slowRate: 0, longDelay: 0 };

export function runChaos(options: ChaosOptions): ChaosResult {
  const founders = Array.from({ length: options.nodes }, (_, i) => `n${i + 1}`);
  const spares = options.membership ? ['s1', 's2', 's3'] : [];
  const sim = new Simulation({
    seed: options.seed,
    founders,
    spares,
    electionTicks: 10,
    preVote: options.preVote ?? true,
    checkQuorum: options.checkQuorum ?? true,
    faults: options.storm ? STORM_FAULTS : CHAOS_FAULTS,
    snapshotEvery: 25,
    ...(options.createNode ? { createNode: options.createNode } : {}),
    ...(options.persistHardState ? { persistHardState: options.persistHardState } : {}),
    ...(options.wireCodec ? { wireCodec: true } : {}),
    ...(options.tightFlow ? { maxInflight: 2, maxEntriesPerMessage: 2 } : {}),
    ...(options.openStorage ? { openStorage: options.openStorage } : {}),
  });
  const run = new ChaosRun(sim, options, founders, spares);
  try {
    const stats = run.execute();
    return { ok: true, seed: options.seed, report: `${describeRun(options)} ok`, stats };
  } catch (err) {
    if (!(err instanceof InvariantViolation)) throw err;
    return {
      ok: false,
      seed: options.seed,
      invariant: err.invariant,
      report: `FAILED ${describeRun(options)} at t=${(sim.now / TICK).toFixed(1)} ticks: ${err.message}\nnetwork: ${sim.network.describe()}\n${sim.recentTrace()}`,
    };
  }
}

interface Pending {
  node: NodeId;
  sentAt: number;
}

class ChaosRun {
  private readonly pending = new Map<string, Pending>();
  private readonly acked = new Set<string>();
  private nextSeq = 0;
  private crashes = 0;
  private confChanges = 0;
  private readonly removed = new Set<NodeId>();
  private acceptingNew = true;
  /** Highest log index of any acknowledged proposal so far. */
  private maxAckedIndex = 0;
  private readonly reads = new Map<string, { node: NodeId; mustSee: number }>();
  private readsAnswered = 0;
  private nextRead = 0;
  private readonly linkLoss: LeaderLinkLoss | undefined;

  constructor(
    private readonly sim: Simulation,
    private readonly options: ChaosOptions,
    private readonly founders: readonly NodeId[],
    private readonly spares: readonly NodeId[],
  ) {
    this.linkLoss = options.linkLoss ? new LeaderLinkLoss(sim, options.seed, options.preVote !== false) : undefined;
    sim.onApply = (host, id, index) => {
      const p = this.pending.get(id);
      // The client hears "done" only from the node it asked, once that node applied it.
      if (p && p.node === host) {
        this.pending.delete(id);
        this.acked.add(id);
        this.maxAckedIndex = Math.max(this.maxAckedIndex, index);
      }
    };
    sim.onReadState = (host, rs) => {
      const read = this.reads.get(rs.context);
      if (!read || read.node !== host) return;
      this.reads.delete(rs.context);
      this.readsAnswered++;
      // Linearizability (§6.4): a read issued after a write was acknowledged must see it.
      if (rs.index < read.mustSee) {
        throw new InvariantViolation(
          'linearizable-read',
          `read ${rs.context} on ${host} got index ${rs.index}, but index ${read.mustSee} was acknowledged before it was issued`,
        );
      }
    };
  }

  execute(): ChaosStats {
    const sim = this.sim;
    const chaosEnd = (this.options.chaosTicks ?? 600) * TICK;
    this.scheduleClient();
    this.scheduleChaos();
    sim.runUntil(chaosEnd);

    // Heal: all links back, calm network, every crashed node restarted.
    this.acceptingNew = false;
    sim.network.heal();
    sim.network.faults = HEALED_FAULTS;
    for (const id of sim.ids()) sim.restart(id);
    sim.note('heal');
    const healAt = sim.now;
    // Measured over 2500 seeds: at most 28.6 ticks with pre-vote, 48.6 without (split votes and
    // candidates deposing fresh leaders make its tail longer), so bound each with room to spare.
    const bound = (this.options.electionBoundTicks ?? (this.options.preVote === false ? 150 : 60)) * TICK;
    if (!sim.runUntil(healAt + bound, () => sim.stableLeader() !== undefined)) {
      throw new InvariantViolation('liveness', `no stable leader ${bound / TICK} ticks after the network healed`);
    }
    const electionAfterHealTicks = (sim.now - healAt) / TICK;

    // Every acknowledged proposal, and every retried one, must reach every live member.
    const applyDeadline = sim.now + 300 * TICK;
    if (!sim.runUntil(applyDeadline, () => this.pending.size === 0 && this.allMembersCaughtUp() && this.missingAcked() === undefined)) {
      const leader = sim.stableLeader();
      throw new InvariantViolation(
        'liveness',
        `after heal: ${this.pending.size} proposals still unacknowledged (${[...this.pending].map(([id, p]) => `${id}@${p.node}`).join(' ')}), ` +
          `members ${this.members().join(',')} caught up: ${this.allMembersCaughtUp()}, missing: ${this.missingAcked() ?? 'nothing'}, leader ${leader ?? 'none'}`,
      );
    }
    let duplicatesSuppressed = 0;
    for (const h of sim.hosts.values()) duplicatesSuppressed = Math.max(duplicatesSuppressed, h.sm.duplicatesSuppressed);
    return {
      events: sim.events,
      elections: sim.checker.leaderCount(),
      acked: this.acked.size,
      snapshotsSent: sim.snapshotsSent,
      crashes: this.crashes,
      confChanges: this.confChanges,
      duplicatesSuppressed,
      electionAfterHealTicks,
      readsAnswered: this.readsAnswered,
      ...(this.linkLoss?.stats() ?? { leaderForgets: 0, linkLossCampaigns: 0, fastFailovers: 0 }),
    };
  }

  private members(): NodeId[] {
    const leader = this.sim.stableLeader();
    const conf = leader ? this.sim.node(leader)!.status().conf : { voters: this.founders, learners: [] };
    return [...conf.voters, ...conf.learners];
  }

  /** An acknowledged proposal some live member has not applied (`id on node`), if any. */
  private missingAcked(): string | undefined {
    for (const m of this.members()) {
      const sm = this.sim.hosts.get(m)!.sm;
      for (const id of this.acked) if (!sm.has(id)) return `${id} on ${m}`;
    }
    return undefined;
  }

  private allMembersCaughtUp(): boolean {
    const leader = this.sim.stableLeader();
    if (!leader) return false;
    const st = this.sim.node(leader)!.status();
    // Until it commits an entry of its own term, a new leader's commit index may trail what is committed.
    if (this.sim.node(leader)!.termAt(st.commit) !== st.term) return false;
    const commit = st.commit;
    return this.members().every((id) => {
      const h = this.sim.hosts.get(id)!;
      return h.node !== undefined && h.sm.appliedIndex >= commit;
    });
  }

  // ---- clients -----------------------------------------------------------

  private scheduleClient(): void {
    this.sim.at(TICK + this.sim.random.int(2 * TICK), () => {
      this.clientStep();
      this.scheduleClient();
    });
  }

  private clientStep(): void {
    const sim = this.sim;
    if (this.acceptingNew && this.pending.size < 4) {
      const id = `c${this.nextSeq % 3}:${this.nextSeq}`;
      this.nextSeq++;
      this.send(id);
    }
    // A client that heard nothing for a while retries the same id elsewhere; the state machine dedups.
    for (const [id, p] of this.pending) if (sim.now - p.sentAt > 25 * TICK) this.send(id);
    if (this.acceptingNew && sim.random.next() < 0.3) this.read();
  }

  /** A linearizable read through a random node; unanswered reads are simply abandoned, as a timed-out CLI would. */
  private read(): void {
    const live = this.sim.ids().filter((n) => this.sim.isLive(n));
    if (live.length === 0) return;
    const node = live[this.sim.random.int(live.length)]!;
    const context = `read-${this.nextRead++}`;
    this.reads.set(context, { node, mustSee: this.maxAckedIndex });
    try {
      this.sim.node(node)!.readIndex(context);
      this.sim.scheduleReady(this.sim.hosts.get(node)!);
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
      this.reads.delete(context);
    }
  }

  private send(id: string): void {
    // After the heal a client asks members only, as a real one (the CLI) would once told who they are.
    const pool = this.acceptingNew ? this.sim.ids() : this.members();
    const live = pool.filter((n) => this.sim.isLive(n) && !this.removed.has(n));
    if (live.length === 0) return;
    const target = live[this.sim.random.int(live.length)]!;
    this.pending.set(id, { node: target, sentAt: this.sim.now });
    try {
      this.sim.node(target)!.propose(id);
      this.sim.scheduleReady(this.sim.hosts.get(target)!);
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
    }
  }

  // ---- faults ------------------------------------------------------------

  private scheduleChaos(): void {
    const gap = this.options.storm ? 1 + this.sim.random.int(5) : 3 + this.sim.random.int(25);
    this.sim.at(gap * TICK, () => {
      if (!this.acceptingNew) return;
      if (this.options.storm) this.stormStep();
      else this.chaosStep();
      this.linkLoss?.afterChaos();
      this.scheduleChaos();
    });
  }

  private chaosStep(): void {
    const sim = this.sim;
    const r = sim.random.next();
    const crashWeight = this.options.crashWeight ?? 0.15;
    const all = sim.ids();
    const live = all.filter((id) => sim.isLive(id));
    const down = all.filter((id) => !sim.isLive(id));
    let p = 0;
    if (r < (p += 0.2)) {
      const side = all.filter(() => sim.random.next() < 0.4);
      sim.network.heal();
      sim.network.partition(side, all);
      sim.note(`partition ${side.join(',')} | rest`);
    } else if (r < (p += 0.1)) {
      const a = all[sim.random.int(all.length)]!;
      const b = all[sim.random.int(all.length)]!;
      if (a !== b) sim.network.cutOneWay(a, b);
      sim.note(`cut ${a}>${b}`);
    } else if (r < (p += 0.2)) {
      sim.network.heal();
      sim.note('heal links');
    } else if (r < (p += crashWeight)) {
      if (live.length > 0) {
        sim.crash(live[sim.random.int(live.length)]!);
        this.crashes++;
      }
    } else if (r < (p += 0.2)) {
      if (down.length > 0) sim.restart(down[sim.random.int(down.length)]!);
    } else if (r < (p += 0.07)) {
      this.transfer();
    } else if (this.options.membership) {
      this.changeMembership();
    }
  }

  private stormStep(): void {
    const sim = this.sim;
    const live = sim.ids().filter((id) => sim.isLive(id));
    if (live.length === 0) return;
    const leader = this.currentLeader();
    const r = sim.random.next();
    const victim = leader && r < 0.5 ? leader.id : live[sim.random.int(live.length)]!;
    if (r < 0.85) {
      sim.crash(victim);
      this.crashes++;
      sim.at(sim.random.int(2 * TICK), () => sim.restart(victim));
    } else if (r < 0.95) {
      const all = sim.ids();
      sim.network.heal();
      sim.network.partition(all.filter(() => sim.random.next() < 0.4), all);
    } else {
      sim.network.heal();
    }
  }

  private currentLeader(): RaftNode | undefined {
    return this.sim.liveNodes().find((n) => n.status().role === 'leader');
  }

  private transfer(): void {
    const leader = this.currentLeader();
    if (!leader) return;
    const voters = leader.status().conf.voters.filter((v) => v !== leader.id);
    if (voters.length === 0) return;
    const to = voters[this.sim.random.int(voters.length)]!;
    leader.transferLeadership(to);
    this.sim.scheduleReady(this.sim.hosts.get(leader.id)!);
    this.sim.note(`transfer ${leader.id} -> ${to}`);
  }

  private changeMembership(): void {
    const leader = this.currentLeader();
    if (!leader) return;
    const conf = leader.status().conf;
    const newcomer = this.spares.find((s) => !conf.voters.includes(s) && !conf.learners.includes(s) && !this.removed.has(s));
    const learner = conf.learners[0];
    const choice = this.sim.random.int(3);
    try {
      if (choice === 0 && newcomer && conf.learners.length === 0) {
        leader.proposeConfChange({ type: 'add-learner', node: newcomer, context: `${newcomer}.sim:5270` });
        this.sim.note(`propose add-learner ${newcomer}`);
      } else if (choice === 1 && learner) {
        leader.proposeConfChange({ type: 'promote', node: learner });
        this.sim.note(`propose promote ${learner}`);
      } else if (choice === 2 && conf.voters.length > 3) {
        const victim = conf.voters[this.sim.random.int(conf.voters.length)]!;
        this.sim.note(`propose remove ${victim}`);
        leader.proposeConfChange({ type: 'remove', node: victim });
        this.removed.add(victim);
      } else {
        return;
      }
      this.confChanges++;
    } catch (err) {
      if (!(err instanceof ConfChangeRejectedError)) throw err;
      this.sim.note(`rejected: ${err.reason}`);
    } finally {
      this.sim.scheduleReady(this.sim.hosts.get(leader.id)!);
    }
  }
}
