/**
 * Seeds empty storage with a cluster's first configuration, as committed
 * conf-change entries of term 1 (etcd's Bootstrap). Every founding member
 * gets identical entries, so their logs agree from the start. `initialize`
 * of a one-node cluster is the single-member case.
 */
import { RaftUsageError } from './errors.js';
import type { Entry, NodeId } from './messages.js';
import { encodeConfChange } from './membership.js';
import type { RaftStorage } from './storage/storage.js';

export interface FoundingMember {
  readonly id: NodeId;
  /** Carried in the conf change, e.g. the member's cluster address. */
  readonly context?: string;
}

export function bootstrapStorage(storage: RaftStorage, members: readonly FoundingMember[]): void {
  if (members.length === 0) throw new RaftUsageError('a cluster needs at least one founding member');
  if (new Set(members.map((m) => m.id)).size !== members.length) throw new RaftUsageError('founding member ids must be unique');
  if (storage.lastIndex() !== 0 || storage.initialState().hardState.term !== 0) {
    throw new RaftUsageError('storage already holds raft state; refusing to bootstrap over it');
  }
  const entries: Entry[] = members.map((m, i) => ({
    index: i + 1,
    term: 1,
    type: 'conf-change',
    data: encodeConfChange(m.context === undefined ? { type: 'add-voter', node: m.id } : { type: 'add-voter', node: m.id, context: m.context }),
  }));
  storage.save({ entries, hardState: { term: 1, vote: '', commit: entries.length } });
}
