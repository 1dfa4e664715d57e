/**
 * A RaftMember's settings, their defaults, and the core it runs: a RaftNode
 * with pre-vote and check-quorum on, over FileStorage in the member's folder
 * (or the storage a test passes).
 */
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { NewerFormatError } from '../../src/base/format-version.js';
import type { Logger } from '../../src/observability/logger.js';
import type { NodeId } from '../raft/messages.js';
import { Mulberry32 } from '../raft/prng.js';
import { RaftNode } from '../raft/raft-node.js';
import { FileStorage } from '../raft/storage/file-storage.js';
import { SNAPSHOT_FILE } from '../raft/storage/snapshot-file.js';
import type { RaftStorage } from '../raft/storage/storage.js';
import { ClusterState } from '../state/cluster-state.js';
import { NewerStateError } from '../state/errors.js';
import type { Transport } from '../transport/transport.js';

export interface RaftMemberOptions {
  /** This node's id (identity.json). */
  readonly id: NodeId;
  readonly transport: Transport;
  /** FileStorage folder; used unless `storage` is given. */
  readonly dir?: string;
  /** Storage to run on instead of FileStorage in `dir` (tests: MemoryStorage). */
  readonly storage?: RaftStorage;
  readonly logger?: Logger;
  /** Milliseconds per core tick. Default 20. */
  readonly tickMs?: number;
  /** Default 10 ticks (randomized in [10, 20) by the core). */
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  /** Snapshot and compact once this many applied entries are held. Default 1000. */
  readonly snapshotEntries?: number;
  /** Entries kept behind the snapshot, for followers slightly behind. Default 100. */
  readonly snapshotKeep?: number;
  /** A pending proposal is proposed again this often until applied. Default 300 ms. */
  readonly retryMs?: number;
  /** The leader sends its cluster-view this often. Default 500 ms. */
  readonly viewMs?: number;
  /**
   * A joiner replays the log from the start: up to this index it may hold an
   * old incarnation of this node's id (reset, then joined again), whose
   * removal there is not this node's.
   */
  readonly historyUntil?: number;
  /** Election jitter seed; random by default. */
  readonly seed?: number;
  /** Told when each proposal of this node settles, with how long it took (the metrics' latency histogram). */
  readonly onProposal?: (timing: ProposalTiming) => void;
}

/** `applied` (a duplicate of an applied one too), `refused` by the state, `failed`: no quorum, a timeout, the member stopped. */
export type ProposalResult = 'applied' | 'refused' | 'failed';

export interface ProposalTiming {
  /** From propose() to its outcome on this node. */
  readonly seconds: number;
  readonly result: ProposalResult;
}

export interface ResolvedMemberOptions {
  readonly tickMs: number;
  readonly snapshotEntries: number;
  readonly snapshotKeep: number;
  readonly retryMs: number;
  /** Ticks between the leader's cluster-views. */
  readonly viewTicks: number;
  /** How long a change or read made during an election waits for a leader before it is refused: two of the longest election timeouts. */
  readonly leaderWaitMs: number;
  readonly onProposal: ((timing: ProposalTiming) => void) | undefined;
}

/**
 * The failure detector's times: one election timeout (the core's base, before
 * its randomization) and how often the leader sends its cluster-view.
 */
export function memberTimings(options: Pick<RaftMemberOptions, 'tickMs' | 'electionTicks' | 'viewMs'> = {}): { electionTimeoutMs: number; viewMs: number } {
  const tickMs = options.tickMs ?? 20;
  return { electionTimeoutMs: (options.electionTicks ?? 10) * tickMs, viewMs: Math.max(1, Math.round((options.viewMs ?? 500) / tickMs)) * tickMs };
}

export function resolveMemberOptions(options: RaftMemberOptions): ResolvedMemberOptions {
  const tickMs = options.tickMs ?? 20;
  const snapshotEntries = options.snapshotEntries ?? 1000;
  return {
    tickMs,
    snapshotEntries,
    snapshotKeep: Math.min(options.snapshotKeep ?? 100, snapshotEntries),
    retryMs: options.retryMs ?? 300,
    viewTicks: Math.max(1, Math.round((options.viewMs ?? 500) / tickMs)),
    leaderWaitMs: 2 * 2 * (options.electionTicks ?? 10) * tickMs,
    onProposal: options.onProposal,
  };
}

export function openCore(options: RaftMemberOptions, log: Logger): { storage: RaftStorage; node: RaftNode } {
  let storage: RaftStorage;
  if (options.storage) storage = options.storage;
  else if (options.dir !== undefined) storage = FileStorage.open({ dir: options.dir, logger: (event, fields) => log.warn({ event, ...fields }, event) });
  else throw new TypeError('RaftMember needs a storage or a dir');
  const node = new RaftNode({
    id: options.id as NodeId,
    storage,
    random: new Mulberry32(options.seed ?? randomInt(2 ** 31)),
    electionTicks: options.electionTicks ?? 10,
    heartbeatTicks: options.heartbeatTicks ?? 1,
    preVote: true,
    checkQuorum: true,
    logger: (event, fields) => log.debug({ event, ...fields }, event),
  });
  return { storage, node };
}

/**
 * The applied state the stored snapshot holds (older versions migrated by
 * ClusterState). One written by a newer release stops the member with the
 * snapshot file's name, its version and the newest this release reads.
 */
export function stateOfStoredSnapshot(storage: RaftStorage, dir: string | undefined): ClusterState {
  try {
    return ClusterState.fromSnapshot(storage.snapshot().data);
  } catch (err) {
    if (err instanceof NewerStateError) {
      throw new NewerFormatError(`cluster state in ${dir === undefined ? 'the raft snapshot' : join(dir, SNAPSHOT_FILE)}`, err.found, err.newest);
    }
    throw err;
  }
}
