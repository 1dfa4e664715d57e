/**
 * What the node and its MMP commands need of clustering, as an interface: the
 * cluster wiring (cluster/member, wired in src/process) implements it, so
 * nothing below the process wiring imports cluster/. A standalone node that
 * never enabled clustering has no ClusterControl at all.
 */
import type { ZoneMember } from '../dns/zone.js';

/** `xmpp cluster status` as data; the MMP prints it in the reference layout or as JSON. */
export interface ClusterStatusView {
  /** PRE-CANDIDATE shows as CANDIDATE, as CMS knows only these three. */
  readonly state: 'LEADER' | 'FOLLOWER' | 'CANDIDATE';
  /** Every member, each once, sorted by `endpoint`. */
  readonly members: readonly ClusterMemberView[];
  /** Local time of this node's last role change. */
  readonly lastStateChange: Date;
  readonly keyFile: string | null;
  readonly certificateFile: string | null;
  /** The trust bundle's file name as given here, or null. */
  readonly trustBundle: string | null;
  /** `xmpp cluster trust insecure-lab`: every status output then says INSECURE LAB MODE. */
  readonly insecureLab: boolean;
  /** Voters this node can reach now (itself included) of all voters. */
  readonly quorum: { readonly reachable: number; readonly voters: number; readonly lost: boolean };
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
}

export interface ClusterMemberView {
  /** Address and first component port it serves call bridges on: `10.106.81.30:5222`. */
  readonly endpoint: string;
  /** Its cluster link: `10.106.81.30:5999`. */
  readonly clusterEndpoint: string;
  readonly name: string;
  readonly id: string;
  readonly self: boolean;
  readonly leader: boolean;
  readonly role: 'leader' | 'follower' | 'learner' | 'candidate';
  /** When this node (on the leader: the leader) last heard from it; null for itself or never. */
  readonly lastContact: Date | null;
  /** Set when no link to it is up: since when. */
  readonly unreachableSince: Date | null;
  /** Its log's match index as the leader last reported it, and how far that is behind the leader's last index. */
  readonly match: number | null;
  readonly lag: number | null;
}

/** Where `xmpp cluster join` dials: an address or name, and the cluster port (default 5999). */
export interface JoinTarget {
  readonly host: string;
  readonly port: number;
}

export interface JoinOutcome {
  readonly peers: number;
  /** The leader's `endpoint` (address and component port), as `cluster status` lists it. */
  readonly leader: string;
}

/**
 * The membership side of clustering. Each method refuses with one
 * OperatorError whose message is the reference's `Error:` text, and changes
 * nothing when it refuses.
 */
export interface ClusterControl {
  /** A member of a cluster (after initialize or join, until leave or removal). */
  isMember(): boolean;
  /** Voters and learners in the configuration, this node included; 0 when not a member. */
  memberCount(): number;
  status(): Promise<ClusterStatusView>;
  /** `xmpp cluster initialize`: a one-member cluster seeded with this node's domain, registry and trust. */
  initialize(): Promise<void>;
  join(target: JoinTarget): Promise<JoinOutcome>;
  /** `xmpp cluster remove <peer>`: by endpoint as status lists it, or by node name. Returns the peer as named in the reply. */
  remove(peer: string): Promise<string>;
  /** `xmpp cluster leave`: hand off leadership if leading, leave the membership, keep a standalone copy. */
  leave(): Promise<void>;
  /**
   * `xmpp reset` on this node: stop the member loop and the peer links and
   * delete the Raft storage, so that the node is no member after a restart
   * either. The cluster keeps this node's entry until it joins again (then
   * the entry is replaced). Nothing to do when this node never clustered.
   */
  resetMembership(): Promise<void>;
  /**
   * What the DNS responder serves (src/dns/zone.ts): every member of the
   * replicated membership with its address, first component port and
   * federation port, `live` as the cluster's failure detector sees it (this
   * node always; a learner never); empty when not a member.
   */
  zoneMembers(): ZoneMember[];
}

export const NO_QUORUM = 'the cluster has no leader (no quorum); nothing was changed';
export const NOT_CLUSTERED = 'clustering is not enabled on this node (xmpp cluster enable)';
export const NOT_MEMBER = 'this node is not a member of a cluster (xmpp cluster initialize, or xmpp cluster join <cluster>)';
export const DEFAULT_CLUSTER_PORT = 5999;

/** A call bridge's session somewhere in the cluster, as the leader's session table says (`xmpp status`). */
export interface ClusterSessionRow {
  readonly address: string;
  /** The id of the member it is connected to. */
  readonly node: string;
  readonly peer: string;
  readonly since: Date;
}
