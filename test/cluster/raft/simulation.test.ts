/**
 * The seeded fault simulation, as CI runs it: a bounded number of seeds per
 * cluster size (the soak runs thousands more). A failure message is the
 * seed's replay line plus the last events before the violation.
 */
import { describe, expect, it } from 'vitest';
import { runChaos } from './sim/chaos.js';
import { UnconfirmedReadNode, VoteForgettingNode, forgetVote } from './sim/broken-variants.js';
import { planForSeed } from './sim/seed-plan.js';

/**
 * CI runs 1080 plan seeds (most with followers forgetting leaders whose link
 * closed, which makes more elections) plus the variant and control runs:
 * about 25 s of one core, split in chunks of 180 so no test nears the 30 s limit.
 */
const CHUNK = 180;
const CHUNKS = 3;

function runSeeds(first: number, count: number, nodes: 3 | 5): void {
  for (let seed = first; seed < first + count; seed++) {
    const plan = { ...planForSeed(seed), nodes };
    const result = runChaos(plan);
    expect(result.ok, result.report).toBe(true);
  }
}

describe('seeded chaos simulation', () => {
  for (let chunk = 0; chunk < CHUNKS; chunk++) {
    const first = 1 + chunk * CHUNK;
    it(`keeps every safety invariant and applies every acknowledged proposal on 3 nodes (seeds ${first}..${first + CHUNK - 1})`, () => {
      runSeeds(first, CHUNK, 3);
    });
    it(`keeps every safety invariant and applies every acknowledged proposal on 5 nodes (seeds ${100_000 + first}..${100_000 + first + CHUNK - 1})`, () => {
      runSeeds(100_000 + first, CHUNK, 5);
    });
  }

  it('keeps them through membership churn, pre-vote and check-quorum off, and election storms', () => {
    for (const variant of [{ membership: true }, { preVote: false }, { checkQuorum: false }, { storm: true }]) {
      for (let seed = 200_001; seed < 200_021; seed++) {
        for (const nodes of [3, 5] as const) {
          const result = runChaos({ seed, nodes, ...variant });
          expect(result.ok, result.report).toBe(true);
        }
      }
    }
  });

  it('keeps them when followers forget a leader whose link closed and campaign at once, and then fail over fast', () => {
    let forgets = 0;
    let campaigns = 0;
    let fast = 0;
    for (let seed = 400_001; seed < 400_021; seed++) {
      for (const nodes of [3, 5] as const) {
        const result = runChaos({ seed, nodes, linkLoss: true, ...(seed % 3 === 0 ? { storm: true } : {}) });
        expect(result.ok, result.report).toBe(true);
        forgets += result.stats!.leaderForgets;
        campaigns += result.stats!.linkLossCampaigns;
        fast += result.stats!.fastFailovers;
      }
    }
    // A run where nobody forgot or campaigned would prove nothing (measured: 836, 446, 23).
    expect(forgets).toBeGreaterThan(400);
    expect(campaigns).toBeGreaterThan(200);
    expect(fast).toBeGreaterThan(10);
  });

  it('replays a seed exactly', () => {
    const a = runChaos(planForSeed(42));
    const b = runChaos(planForSeed(42));
    expect(a.ok).toBe(true);
    expect(b.stats).toEqual(a.stats);
  });

  it('elects a leader within the bound after healing, and exercises faults for real', () => {
    let acked = 0;
    let snapshots = 0;
    let crashes = 0;
    let worst = 0;
    let reads = 0;
    for (let seed = 300_001; seed < 300_021; seed++) {
      const result = runChaos({ seed, nodes: 5 });
      expect(result.ok, result.report).toBe(true);
      acked += result.stats!.acked;
      snapshots += result.stats!.snapshotsSent;
      crashes += result.stats!.crashes;
      worst = Math.max(worst, result.stats!.electionAfterHealTicks);
      reads += result.stats!.readsAnswered;
    }
    // A run that injected nothing would prove nothing.
    expect(acked).toBeGreaterThan(500);
    expect(snapshots).toBeGreaterThan(0);
    expect(crashes).toBeGreaterThan(20);
    expect(reads).toBeGreaterThan(200);
    expect(worst).toBeLessThanOrEqual(60);
  });
});

describe('negative controls: the checker catches a broken Raft', () => {
  for (const linkLoss of [false, true]) {
    const also = linkLoss ? ', with followers forgetting leaders' : '';
    it(`catches a host that does not persist its vote (two leaders in one term)${also}`, () => {
      const failures = [];
      for (let seed = 1; seed <= 200 && failures.length === 0; seed++) {
        const result = runChaos({ seed, nodes: seed % 2 ? 3 : 5, storm: true, preVote: false, chaosTicks: 400, persistHardState: forgetVote, linkLoss });
        if (!result.ok) failures.push(result);
      }
      expect(failures.length).toBe(1);
      expect(failures[0]!.invariant).toBe('election-safety');
      expect(failures[0]!.report).toMatch(/^FAILED runChaos\(\{ seed=\d+/);
    });

    it(`catches a leader that answers reads without confirming it still leads (stale read)${also}`, () => {
      const failures = [];
      for (let seed = 1; seed <= 100 && failures.length === 0; seed++) {
        const result = runChaos({ seed, nodes: seed % 2 ? 3 : 5, checkQuorum: false, createNode: (c) => new UnconfirmedReadNode(c), linkLoss });
        if (!result.ok) failures.push(result);
      }
      expect(failures.length).toBe(1);
      expect(failures[0]!.invariant).toBe('linearizable-read');
    });
  }

  it('catches a follower that forgets its vote along with its leader (its vote of that term is given twice)', () => {
    const failures = [];
    for (let seed = 1; seed <= 100 && failures.length === 0; seed++) {
      const result = runChaos({ seed, nodes: seed % 2 ? 3 : 5, linkLoss: true, createNode: (c) => new VoteForgettingNode(c) });
      if (!result.ok) failures.push(result);
    }
    expect(failures.length).toBe(1);
    expect(failures[0]!.invariant).toBe('durable-state');
  });

  it('passes the same storm seeds when the vote is persisted', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const result = runChaos({ seed, nodes: seed % 2 ? 3 : 5, storm: true, preVote: false, chaosTicks: 400 });
      expect(result.ok, result.report).toBe(true);
    }
  });
});
