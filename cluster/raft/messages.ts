/**
 * The data the Raft core consumes and produces. Everything here is plain data
 * so the core stays a pure function of its inputs (ticks, messages, proposals)
 * and the caller owns all I/O.
 */

/** Node ids are operator-visible names; the empty string means "nobody". */
export type NodeId = string;
export const NO_NODE: NodeId = '';

export type EntryType = 'normal' | 'conf-change';

export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly type: EntryType;
  /** Empty for the no-op a new leader appends (§8: commit an entry of its own term). */
  readonly data: Uint8Array;
}

/** What must survive a crash before any message that depends on it leaves the node (§5.1 Figure 2). */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export interface SnapshotMetadata {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  /** The serialized state machine; opaque to the core. */
  readonly data: Uint8Array;
}

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** Volatile state the caller may want to observe (who leads, what we are). */
export interface SoftState {
  readonly leader: NodeId;
  readonly role: Role;
}

/** A linearizable read point: once `applied >= index`, a read of local state answers `context`. */
export interface ReadState {
  readonly index: number;
  readonly context: string;
}

interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
  /** 0 for messages forwarded on behalf of a client (proposal, read, transfer): they carry no term of their own. */
  readonly term: number;
}

export interface AppendMessage extends Envelope {
  readonly type: 'app';
  /** Index and term of the entry just before `entries` (the consistency check of §5.3). */
  readonly index: number;
  readonly logTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

export interface AppendResponse extends Envelope {
  readonly type: 'app-resp';
  /** On success the last index now known to match; on rejection the probed index. */
  readonly index: number;
  readonly reject: boolean;
  /** On rejection: the follower's guess of where the logs may match, and the term there (fast back-off). */
  readonly rejectHint: number;
  readonly hintTerm: number;
}

export interface HeartbeatMessage extends Envelope {
  readonly type: 'heartbeat';
  readonly commit: number;
  /** ReadIndex round this heartbeat confirms leadership for, if any. */
  readonly context: string | undefined;
}

export interface HeartbeatResponse extends Envelope {
  readonly type: 'heartbeat-resp';
  readonly context: string | undefined;
}

export interface VoteRequest extends Envelope {
  readonly type: 'vote' | 'pre-vote';
  /** The candidate's last log position, for the up-to-date check of §5.4.1. */
  readonly index: number;
  readonly logTerm: number;
  /** Set when a leader handed over leadership: voters then ignore their leader lease. */
  readonly transfer: boolean;
}

export interface VoteResponse extends Envelope {
  readonly type: 'vote-resp' | 'pre-vote-resp';
  readonly reject: boolean;
}

export interface SnapshotMessage extends Envelope {
  readonly type: 'snap';
  readonly snapshot: Snapshot;
}

export interface TimeoutNowMessage extends Envelope {
  readonly type: 'timeout-now';
}

export interface ProposalMessage extends Envelope {
  readonly type: 'prop';
  readonly entries: readonly Entry[];
}

export interface ReadIndexRequest extends Envelope {
  readonly type: 'read-index';
  readonly context: string;
}

export interface ReadIndexResponse extends Envelope {
  readonly type: 'read-index-resp';
  readonly index: number;
  readonly context: string;
}

export interface TransferLeaderRequest extends Envelope {
  readonly type: 'transfer-leader';
  readonly transferee: NodeId;
}

export type Message =
  | AppendMessage
  | AppendResponse
  | HeartbeatMessage
  | HeartbeatResponse
  | VoteRequest
  | VoteResponse
  | SnapshotMessage
  | TimeoutNowMessage
  | ProposalMessage
  | ReadIndexRequest
  | ReadIndexResponse
  | TransferLeaderRequest;

export type MessageType = Message['type'];

export const EMPTY_DATA: Uint8Array = new Uint8Array(0);

export function isVoteRequest(m: Message): m is VoteRequest {
  return m.type === 'vote' || m.type === 'pre-vote';
}
