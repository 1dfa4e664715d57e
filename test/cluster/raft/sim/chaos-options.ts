/**
 * What a chaos run is asked to do (ChaosOptions), what it reports
 * (ChaosStats, ChaosResult), and the one line that replays it.
 */
import type { RaftConfig } from '../../../../cluster/raft/config.js';
import type { HardState } from '../../../../cluster/raft/messages.js';
import type { RaftNode } from '../../../../cluster/raft/raft-node.js';
import type { InvariantViolation } from './checker.js';
import type { LinkLossStats } from './leader-link-loss.js';
import type { SimulationConfig } from './simulation.js';

export interface ChaosOptions {
  readonly seed: number;
  readonly nodes: 3 | 5;
  /** Length of the fault phase. */
  readonly chaosTicks?: number;
  readonly membership?: boolean;
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  /** Fraction of chaos actions that crash a node (the rest partition, heal, restart, transfer...). */
  readonly crashWeight?: number;
  /**
   * Election storm: chaos every few ticks, crashes that restart almost at
   * once and favour the leader, slow links. Built to make competing
   * candidates of one term and voters crashing between their requests
   * common, which is what the negative controls need.
   */
  readonly storm?: boolean;
  readonly createNode?: (config: RaftConfig) => RaftNode;
  readonly persistHardState?: (hs: HardState) => HardState;
  readonly wireCodec?: boolean;
  /** Tight flow control: 2 appends in flight of at most 2 entries each. */
  readonly tightFlow?: boolean;
  readonly openStorage?: SimulationConfig['openStorage'];
  /** Followers whose link to the leader closes forget it and may campaign at once, as the cluster wiring does. */
  readonly linkLoss?: boolean;
  /** Bound on ticks from heal to a leader every live voter follows. */
  readonly electionBoundTicks?: number;
}

export interface ChaosStats extends LinkLossStats {
  readonly events: number;
  readonly elections: number;
  readonly acked: number;
  readonly snapshotsSent: number;
  readonly crashes: number;
  readonly confChanges: number;
  readonly duplicatesSuppressed: number;
  readonly electionAfterHealTicks: number;
  readonly readsAnswered: number;
}

export interface ChaosResult {
  readonly ok: boolean;
  readonly seed: number;
  readonly invariant?: InvariantViolation['invariant'];
  /** One line to paste into a test or `soak` to replay this run, then what went wrong. */
  readonly report: string;
  readonly stats?: ChaosStats;
}

export function describeRun(o: ChaosOptions): string {
  const flags = [`seed=${o.seed}`, `nodes=${o.nodes}`];
  if (o.membership) flags.push('membership');
  if (o.storm) flags.push('storm');
  if (o.wireCodec) flags.push('wireCodec');
  if (o.tightFlow) flags.push('tightFlow');
  if (o.linkLoss) flags.push('linkLoss');
  if (o.preVote === false) flags.push('no-prevote');
  if (o.checkQuorum === false) flags.push('no-checkquorum');
  if (o.chaosTicks !== undefined) flags.push(`ticks=${o.chaosTicks}`);
  return `runChaos({ ${flags.join(', ')} })`;
}
