/**
 * Raft election benchmark, in the seeded simulator (simulated ticks, so the
 * numbers do not depend on the machine): how many ticks after the leader
 * crashes until a new leader is followed by every live voter, p50/p99 over
 * many seeds, with and without pre-vote; and how often a follower that was
 * partitioned away deposes a healthy leader when it comes back.
 * Called by test/bench/run.ts; prints nothing itself.
 */
import type { NodeId } from '../../cluster/raft/messages.js';
import type { NetworkFaults } from '../cluster/raft/sim/network.js';
import { Simulation, TICK } from '../cluster/raft/sim/simulation.js';

const ELECTION_TICKS = 10;
/** A LAN-like link: 0.1–0.5 tick one way (10–50 ms at the cluster's 100 ms tick), nothing lost. */
const LAN: NetworkFaults = { dropRate: 0, duplicateRate: 0, minDelay: 1, maxDelay: 5, slowRate: 0, longDelay: 0 };

interface Sample {
  ticks: number;
  /** Terms the election used: more than one means a split vote (or a lost pre-vote round forced a term). */
  terms: number;
}

function founders(n: number): NodeId[] {
  return Array.from({ length: n }, (_, i) => `n${i + 1}`);
}

function newSim(seed: number, nodes: number, preVote: boolean): Simulation {
  return new Simulation({ seed, founders: founders(nodes), electionTicks: ELECTION_TICKS, preVote, checkQuorum: true, faults: LAN });
}

/** Ticks from crashing a settled leader to the next leader every live voter follows. */
function electionAfterLeaderLoss(seed: number, nodes: number, preVote: boolean): Sample | undefined {
  const sim = newSim(seed, nodes, preVote);
  if (!sim.runUntil(200 * TICK, () => sim.stableLeader() !== undefined)) return undefined;
  // Let it settle (followers' timers reset by heartbeats), then lose the leader at a random phase.
  sim.runUntil(sim.now + 20 * TICK + sim.random.int(TICK));
  const old = sim.stableLeader();
  if (!old) return undefined;
  const termBefore = sim.node(old)!.status().term;
  sim.crash(old);
  const lostAt = sim.now;
  const found = sim.runUntil(lostAt + 300 * TICK, () => {
    const l = sim.stableLeader();
    return l !== undefined && l !== old;
  });
  if (!found) return undefined;
  const leader = sim.node(sim.stableLeader()!)!.status();
  return { ticks: (sim.now - lostAt) / TICK, terms: leader.term - termBefore };
}

/** Whether a follower cut off for `awayTicks` makes the cluster change leader when it returns. */
function rejoinDeposesLeader(seed: number, preVote: boolean, awayTicks: number): boolean | undefined {
  const sim = newSim(seed, 3, preVote);
  if (!sim.runUntil(200 * TICK, () => sim.stableLeader() !== undefined)) return undefined;
  const leader = sim.stableLeader()!;
  const term = sim.node(leader)!.status().term;
  const follower = sim.ids().find((id) => id !== leader)!;
  sim.network.partition([follower], sim.ids());
  sim.runUntil(sim.now + awayTicks * TICK);
  sim.network.heal();
  sim.runUntil(sim.now + 5 * ELECTION_TICKS * TICK);
  const now = sim.node(leader)!.status();
  return now.role !== 'leader' || now.term !== term;
}

/** Ticks from transferLeadership to the target being followed by every live voter. */
function transferTicks(seed: number): number | undefined {
  const sim = newSim(seed, 5, true);
  if (!sim.runUntil(200 * TICK, () => sim.stableLeader() !== undefined)) return undefined;
  sim.runUntil(sim.now + 5 * TICK + sim.random.int(TICK));
  const leader = sim.stableLeader();
  if (!leader) return undefined;
  const to = sim.ids().find((id) => id !== leader)!;
  const at = sim.now;
  sim.node(leader)!.transferLeadership(to);
  sim.scheduleReady(sim.hosts.get(leader)!);
  return sim.runUntil(at + 100 * TICK, () => sim.stableLeader() === to) ? (sim.now - at) / TICK : undefined;
}

/** A leader cut off from everyone: ticks until it steps down (check-quorum), and until the rest follow a new leader. */
function isolatedLeader(seed: number): { stepDown: number; replaced: number } | undefined {
  const sim = newSim(seed, 5, true);
  if (!sim.runUntil(200 * TICK, () => sim.stableLeader() !== undefined)) return undefined;
  sim.runUntil(sim.now + 5 * TICK + sim.random.int(TICK));
  const leader = sim.stableLeader();
  if (!leader) return undefined;
  const at = sim.now;
  sim.network.partition([leader], sim.ids());
  let stepDown: number | undefined;
  let replaced: number | undefined;
  sim.runUntil(at + 300 * TICK, () => {
    if (stepDown === undefined && sim.node(leader)!.status().role !== 'leader') stepDown = (sim.now - at) / TICK;
    if (replaced === undefined) {
      const others = sim.liveNodes().filter((n) => n.id !== leader && n.status().role === 'leader');
      const l = others[0]?.status();
      if (l && sim.ids().every((id) => id === leader || sim.node(id)!.status().leader === l.id)) replaced = (sim.now - at) / TICK;
    }
    return stepDown !== undefined && replaced !== undefined;
  });
  return stepDown !== undefined && replaced !== undefined ? { stepDown, replaced } : undefined;
}

function summary(values: number[]): string {
  const v = [...values].sort((a, b) => a - b);
  return `p50 ${fmt(percentile(v, 50))} ticks  p99 ${fmt(percentile(v, 99))}  max ${fmt(v.at(-1) ?? NaN)}`;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

const fmt = (n: number) => n.toFixed(1).padStart(5);

export function runRaftElectionBench(options: { seeds?: number } = {}): string {
  const seeds = options.seeds ?? 400;
  const lines: string[] = [];
  lines.push(`raft election after leader loss (simulated; election timeout ${ELECTION_TICKS} ticks, heartbeat 1 tick, link 0.1-0.5 tick, ${seeds} seeds each)`);
  for (const nodes of [3, 5]) {
    for (const preVote of [true, false]) {
      const samples: Sample[] = [];
      let failed = 0;
      for (let seed = 1; seed <= seeds; seed++) {
        const s = electionAfterLeaderLoss(seed * 7919 + nodes, nodes, preVote);
        if (s) samples.push(s);
        else failed++;
      }
      const ticks = samples.map((s) => s.ticks).sort((a, b) => a - b);
      const multi = samples.filter((s) => s.terms > 1).length;
      const mean = ticks.reduce((a, b) => a + b, 0) / Math.max(1, ticks.length);
      lines.push(
        `  ${nodes} nodes, pre-vote ${preVote ? 'on ' : 'off'}: p50 ${fmt(percentile(ticks, 50))} ticks  p99 ${fmt(percentile(ticks, 99))}  max ${fmt(ticks.at(-1) ?? NaN)}  mean ${fmt(mean)}` +
          `  (split into more than one term: ${((100 * multi) / Math.max(1, samples.length)).toFixed(1)}%${failed ? `, no leader within 300 ticks: ${failed}` : ''})`,
      );
    }
  }
  const away = 5 * ELECTION_TICKS;
  const rejoinSeeds = Math.max(20, Math.floor(seeds / 4));
  for (const preVote of [true, false]) {
    let deposed = 0;
    let runs = 0;
    for (let seed = 1; seed <= rejoinSeeds; seed++) {
      const r = rejoinDeposesLeader(seed * 104729, preVote, away);
      if (r === undefined) continue;
      runs++;
      if (r) deposed++;
    }
    lines.push(`raft rejoin after ${away} ticks partitioned, pre-vote ${preVote ? 'on ' : 'off'}: healthy leader deposed in ${deposed} of ${runs} seeds`);
  }
  const extraSeeds = Math.max(20, Math.floor(seeds / 4));
  const transfers: number[] = [];
  const stepDowns: number[] = [];
  const replacements: number[] = [];
  for (let seed = 1; seed <= extraSeeds; seed++) {
    const t = transferTicks(seed * 15485863);
    if (t !== undefined) transfers.push(t);
    const iso = isolatedLeader(seed * 32452843);
    if (iso) {
      stepDowns.push(iso.stepDown);
      replacements.push(iso.replaced);
    }
  }
  lines.push(`raft leadership transfer, 5 nodes: ${summary(transfers)}  (${transfers.length} of ${extraSeeds} seeds)`);
  lines.push(`raft leader cut off, 5 nodes: steps down (check-quorum) ${summary(stepDowns)}; majority follows a new leader ${summary(replacements)}`);
  return lines.join('\n');
}
