/**
 * The member's status as data, for `xmpp cluster status`: the Raft indexes,
 * this node's role, and every member of the applied configuration with its
 * liveness and log position. The leader knows every follower's match index;
 * a follower shows what the leader last reported in its cluster-view (it
 * cannot see the other followers itself), and its own contact with the leader.
 */
import type { NodeId, Role, SoftState } from '../raft/messages.js';
import type { RaftStatus } from '../raft/raft-node.js';
import type { ClusterState } from '../state/cluster-state.js';
import type { ControlMessage } from './control-messages.js';
import type { PeerActivity } from './peer-activity.js';

export interface PeerStatus {
  readonly id: NodeId;
  readonly name: string;
  /** `host:port` of its cluster link. */
  readonly cluster: string;
  /** `host:port` it serves call bridges on. */
  readonly component: string;
  readonly role: 'voter' | 'learner';
  readonly self: boolean;
  readonly leader: boolean;
  readonly linkUp: boolean;
  readonly lastContact: Date | null;
  readonly unreachableSince: Date | null;
  readonly match: number | null;
  readonly lag: number | null;
  /**
   * How long ago it was last heard from, by the freshest account this node
   * has: on the leader its own contact; on a follower its own contact with the
   * leader and the leader's cluster-view for the others (as of when the view
   * was sent; without a view, its own contact). 0 for itself, null if never.
   */
  readonly contactAgoMs: number | null;
}

export interface MemberStatus {
  readonly id: NodeId;
  readonly term: number;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly role: Role;
  readonly leader: NodeId;
  readonly lastRoleChange: Date;
  /** Sorted by component endpoint, each member once. */
  readonly members: readonly PeerStatus[];
  /** How long ago the current leader's cluster-view arrived: 0 on the leader, null without one. */
  readonly viewAgeMs: number | null;
}

export function memberStatus(
  self: NodeId,
  s: RaftStatus,
  soft: SoftState,
  roleSince: Date,
  state: ClusterState,
  activity: PeerActivity,
): MemberStatus {
  const view = soft.role === 'leader' ? undefined : activity.leaderView(soft.leader, s.term);
  const now = Date.now();
  const members = state.members().map((m): PeerStatus => {
    const isSelf = m.id === self;
    const a = activity.of(m.id);
    let match: number | null = null;
    let lag: number | null = null;
    let lastContact = isSelf ? null : a.lastContact;
    if (isSelf) {
      match = s.lastIndex;
    } else if (soft.role === 'leader') {
      const pr = s.progress[m.id];
      if (pr) {
        match = pr.match;
        lag = Math.max(0, s.lastIndex - pr.match);
      }
    }
    const seen = view?.members.get(m.id);
    if (seen && soft.role !== 'leader') {
      match = seen.match;
      lag = seen.lag;
      // Followers do not talk to each other: another follower's contact is the leader's.
      if (m.id !== soft.leader && !isSelf) lastContact = seen.agoMs === null ? null : new Date(view!.receivedAt - seen.agoMs);
    }
    if (isSelf && lag === null) lag = 0;
    let contactAgoMs = isSelf ? 0 : activity.agoMs(m.id, now);
    if (seen && !isSelf && m.id !== soft.leader) contactAgoMs = seen.agoMs;
    return {
      id: m.id,
      name: m.name,
      cluster: m.cluster,
      component: m.component,
      role: m.role,
      self: isSelf,
      leader: m.id === soft.leader,
      linkUp: isSelf || a.linkUp,
      lastContact,
      unreachableSince: isSelf ? null : a.unreachableSince,
      match,
      lag,
      contactAgoMs,
    };
  });
  members.sort((a, b) => (a.component < b.component ? -1 : a.component > b.component ? 1 : a.id < b.id ? -1 : 1));
  return {
    id: self,
    term: s.term,
    commit: s.commit,
    applied: s.applied,
    lastIndex: s.lastIndex,
    role: s.role,
    leader: soft.leader,
    lastRoleChange: roleSince,
    members,
    viewAgeMs: soft.role === 'leader' ? 0 : view ? Math.max(0, now - view.receivedAt) : null,
  };
}

/** The leader's cluster-view: each member's match, lag and contact as the leader sees them. */
export function clusterView(self: NodeId, s: RaftStatus, activity: PeerActivity): ControlMessage {
  const now = Date.now();
  const members = [...s.conf.voters, ...s.conf.learners].map((id) => {
    const match = id === self ? s.lastIndex : (s.progress[id]?.match ?? 0);
    return { id, match, lag: Math.max(0, s.lastIndex - match), agoMs: id === self ? null : activity.agoMs(id, now) };
  });
  return { type: 'cluster-view', term: s.term, members };
}
