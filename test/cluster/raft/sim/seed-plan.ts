/**
 * Which variant of the chaos run a seed exercises, shared by the CI test and
 * the soak so one seed number always means one run: 3 and 5 nodes,
 * membership churn on a third of the seeds, election storms on a fifth,
 * tight flow control on a quarter, some seeds with pre-vote or
 * check-quorum off (safety must not depend on them), and on ten seeds in
 * thirteen the wiring's reaction to a closed link (the follower forgets its
 * leader and may campaign at once); on the rest a cut link stays silent.
 */
import type { ChaosOptions } from './chaos.js';

export function planForSeed(seed: number, chaosTicks?: number): ChaosOptions {
  return {
    seed,
    nodes: seed % 2 === 0 ? 5 : 3,
    membership: seed % 3 === 0,
    ...(seed % 5 === 4 ? { storm: true } : {}),
    ...(seed % 8 === 1 || seed % 8 === 2 ? { tightFlow: true } : {}),
    ...(seed % 7 === 3 ? { preVote: false } : {}),
    ...(seed % 11 === 5 ? { checkQuorum: false } : {}),
    ...(seed % 13 < 10 ? { linkLoss: true } : {}),
    ...(chaosTicks !== undefined ? { chaosTicks } : {}),
  };
}
