/**
 * `xmpp-cluster restore` of a cluster member's backup: Raft storage for a new
 * one-member cluster whose state is the backed-up applied state. The state
 * is stored as a snapshot at the backed-up index, with this node the only
 * voter (the other members, and their DNS records, are dropped: they belong
 * to the cluster the backup was taken from). At its next start the node
 * resumes membership from it, as after any restart, and elects itself.
 */
import { OperatorError } from '../../src/base/operator-error.js';
import { FileStorage } from '../raft/storage/file-storage.js';
import { deserializeState, serializeState, type Member } from '../state/state-data.js';

export interface RestoredMember {
  /** identity.json's id: the backed-up node's, restored with it. */
  readonly selfId: string;
  /** The backup's `cluster.state` (cluster/state's serialization, any version it reads) and index. */
  readonly state: string;
  readonly index: number;
  /** Where the restored node runs, when not where the backed-up one did: its name and address in `cluster status`. */
  readonly name?: string;
  readonly address?: string;
}

export function seedRestoredMember(raftDir: string, r: RestoredMember): Member {
  const data = deserializeState(r.state);
  const old = data.members.get(r.selfId);
  if (!old) throw new OperatorError(`the backup's cluster state does not list its own node ${r.selfId} as a member`);
  const moveHost = (endpoint: string) => (r.address === undefined ? endpoint : `${r.address.includes(':') ? `[${r.address}]` : r.address}:${endpoint.slice(endpoint.lastIndexOf(':') + 1)}`);
  const self: Member = { name: r.name ?? old.name, cluster: moveHost(old.cluster), component: moveHost(old.component), role: 'voter' };
  data.members = new Map([[r.selfId, self]]);
  const own = data.dns.records.get(r.selfId);
  data.dns = { ...data.dns, records: own ? new Map([[r.selfId, own]]) : new Map() };
  const index = Math.max(1, r.index);
  const storage = FileStorage.open({ dir: raftDir });
  try {
    if (storage.lastIndex() !== 0) throw new OperatorError(`${raftDir} already holds Raft state; restore only into a new data directory`);
    storage.save({
      snapshot: { metadata: { index, term: 1, confState: { voters: [r.selfId], learners: [] } }, data: new TextEncoder().encode(serializeState(data)) },
      entries: [],
      hardState: { term: 1, vote: '', commit: index },
    });
  } finally {
    storage.close();
  }
  return self;
}
