/**
 * Small decisions of the cluster service, apart so they can be read (and
 * tested) on their own: whether stored Raft state makes this node a member
 * at start, which member an operator names, and what a failed dial tells him.
 */
import { existsSync, readdirSync } from 'node:fs';
import { applyConfChange, decodeConfChange, isMember } from '../raft/membership.js';
import { FileStorage } from '../raft/storage/file-storage.js';
import type { ClusterState } from '../state/cluster-state.js';
import { stateOfStoredSnapshot } from './raft-member-options.js';
import { TransportError } from '../transport/transport.js';

/** Whether the Raft storage in `dir` holds a committed configuration that includes `id`. */
export function storedMembership(dir: string, id: string): boolean {
  if (!existsSync(dir) || readdirSync(dir).length === 0) return false;
  const storage = FileStorage.open({ dir });
  try {
    // Read now, before any link opens: a snapshot of a newer release stops the start with its one line.
    stateOfStoredSnapshot(storage, dir);
    let conf = storage.initialState().confState;
    const commit = Math.min(storage.initialState().hardState.commit, storage.lastIndex());
    const first = storage.firstIndex();
    if (commit >= first) {
      for (const e of storage.entries(first, commit + 1)) if (e.type === 'conf-change') conf = applyConfChange(conf, decodeConfChange(e.data));
    }
    return isMember(conf, id);
  } finally {
    storage.close();
  }
}

type MemberEntry = ReturnType<ClusterState['members']>[number];

/** A member named as `cluster status` lists it (component endpoint), by node name, cluster endpoint or id. */
export function resolvePeer(members: readonly MemberEntry[], peer: string): MemberEntry | undefined {
  const key = peer.toLowerCase();
  return (
    members.find((m) => m.component.toLowerCase() === key) ??
    members.find((m) => m.name.toLowerCase() === key) ??
    members.find((m) => m.cluster.toLowerCase() === key || m.id === peer)
  );
}

/** The one-line reason a dial to `address` failed, saying which side refused which certificate. */
export function dialProblem(err: unknown, address: string): string {
  if (!(err instanceof TransportError)) return `cannot join through ${address}: ${(err as Error).message}`;
  switch (err.code) {
    case 'unreachable':
      return err.message;
    case 'peer-untrusted':
      return `the certificate of ${address} is not trusted here (it does not chain to this node's trust bundle, xmpp cluster trust)`;
    case 'refused-by-peer':
      return `${address} does not trust this node's certificate (it does not chain to the cluster's trust bundle; check xmpp certs)`;
    default:
      return `cannot join through ${address}: ${err.message}`;
  }
}
