/**
 * `xmpp cluster status` as data (ClusterStatusView) from the member's status:
 * CMS knows three states, so a pre-candidate shows as CANDIDATE; quorum is
 * the voters this node can reach now (itself and every voter with a link up)
 * of all voters.
 */
import type { ClusterMemberView, ClusterStatusView } from '../../src/node/cluster-control.js';
import type { TrustSetting } from '../../src/node/configuration.js';
import type { MemberStatus } from './member-status.js';

export interface StatusSettings {
  readonly keyFile: string | null;
  readonly certificateFile: string | null;
  readonly trust: TrustSetting;
}

export function clusterStatusView(s: MemberStatus, settings: StatusSettings): ClusterStatusView {
  const state = s.role === 'leader' ? 'LEADER' : s.role === 'follower' ? 'FOLLOWER' : 'CANDIDATE';
  const members = s.members.map(
    (m): ClusterMemberView => ({
      endpoint: m.component,
      clusterEndpoint: m.cluster,
      name: m.name,
      id: m.id,
      self: m.self,
      leader: m.leader,
      role: m.leader ? 'leader' : m.role === 'learner' ? 'learner' : m.self && state === 'CANDIDATE' ? 'candidate' : 'follower',
      lastContact: m.lastContact,
      unreachableSince: m.unreachableSince,
      match: m.match,
      lag: m.lag,
    }),
  );
  const voters = s.members.filter((m) => m.role === 'voter');
  const reachable = voters.filter((m) => m.self || m.linkUp).length;
  return {
    state,
    members,
    lastStateChange: s.lastRoleChange,
    keyFile: settings.keyFile,
    certificateFile: settings.certificateFile,
    trustBundle: settings.trust.kind === 'pem' ? settings.trust.file : null,
    insecureLab: settings.trust.kind === 'insecure-lab',
    quorum: { reachable, voters: voters.length, lost: reachable * 2 <= voters.length },
    term: s.term,
    commitIndex: s.commit,
    appliedIndex: s.applied,
  };
}
