/**
 * The Raft consensus core: what the cluster wiring imports. The core
 * (RaftNode and below) is pure; storage/file-storage.ts is the one module
 * here that touches the disk.
 */
export { RaftNode, type RaftStatus, type ProgressStatus } from './raft-node.js';
export type { Ready } from './ready.js';
export { isEmptyReady } from './ready.js';
export type { RaftConfig, RaftLogger } from './config.js';
export { DEFAULT_ELECTION_TICKS, DEFAULT_HEARTBEAT_TICKS } from './config.js';
export * from './messages.js';
export { type ConfChange, type ConfChangeType, confChangeProblem, applyConfChange, encodeConfChange, decodeConfChange, isMember } from './membership.js';
export { bootstrapStorage, type FoundingMember } from './bootstrap.js';
export { ProposalDroppedError, ConfChangeRejectedError, type ConfChangeRejection, LogCompactedError, LogUnavailableError, RaftUsageError } from './errors.js';
export { Mulberry32, deriveSeed, type RandomSource } from './prng.js';
export { encodeMessage, decodeMessage, MessageDecodeError } from './message-codec.js';
export type { RaftStorage, StorageBatch, InitialState } from './storage/storage.js';
export { MemoryStorage } from './storage/memory-storage.js';
export { FileStorage, CorruptLogError, type FileStorageOptions } from './storage/file-storage.js';
export { CorruptSnapshotError } from './storage/snapshot-file.js';
