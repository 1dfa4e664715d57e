/**
 * Settings of one Raft core. Time is counted in ticks: the caller decides how
 * long a tick is (cluster/member uses 20 ms), the core only counts them.
 */
import type { NodeId } from './messages.js';
import type { RandomSource } from './prng.js';
import type { RaftStorage } from './storage/storage.js';

/** Structured events for the caller's logger; the core never formats or writes logs itself. */
export type RaftLogger = (event: string, fields: Record<string, unknown>) => void;

export interface RaftConfig {
  readonly id: NodeId;
  readonly storage: RaftStorage;
  /** Seeded source for election-timeout jitter; the core has no other randomness. */
  readonly random: RandomSource;
  /** ET: a follower that hears no leader for a random timeout in [ET, 2·ET) ticks starts an election. */
  readonly electionTicks?: number;
  /** Ticks between leader heartbeats; must be well below electionTicks. */
  readonly heartbeatTicks?: number;
  /** A node first checks it could win before bumping its term (dissertation §9.6). Default on. */
  readonly preVote?: boolean;
  /** A leader steps down without a majority's contact for ET; followers honour a leader lease. Default on. */
  readonly checkQuorum?: boolean;
  /** Entries per append message. */
  readonly maxEntriesPerMessage?: number;
  /** Append messages in flight per follower in replicate state. */
  readonly maxInflight?: number;
  readonly logger?: RaftLogger;
}

export interface ResolvedConfig {
  readonly id: NodeId;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxEntriesPerMessage: number;
  readonly maxInflight: number;
  readonly logger: RaftLogger;
}

export const DEFAULT_ELECTION_TICKS = 10;
export const DEFAULT_HEARTBEAT_TICKS = 1;

export function resolveConfig(config: RaftConfig): ResolvedConfig {
  const electionTicks = config.electionTicks ?? DEFAULT_ELECTION_TICKS;
  const heartbeatTicks = config.heartbeatTicks ?? DEFAULT_HEARTBEAT_TICKS;
  if (config.id === '') throw new RangeError('raft node id must not be empty');
  if (!Number.isInteger(heartbeatTicks) || heartbeatTicks < 1) throw new RangeError('heartbeatTicks must be a positive integer');
  if (!Number.isInteger(electionTicks) || electionTicks <= heartbeatTicks) {
    throw new RangeError('electionTicks must be an integer greater than heartbeatTicks');
  }
  return {
    id: config.id,
    electionTicks,
    heartbeatTicks,
    preVote: config.preVote ?? true,
    checkQuorum: config.checkQuorum ?? true,
    maxEntriesPerMessage: config.maxEntriesPerMessage ?? 64,
    maxInflight: config.maxInflight ?? 256,
    logger: config.logger ?? (() => undefined),
  };
}
