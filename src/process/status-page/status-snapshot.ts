import { componentName } from '../../component/session-rules.js';
import type { ClusterStatusView } from '../../node/cluster-control.js';
import type { FederationConnectionRow, FederationSurvey } from '../../node/federation-view.js';
import type { XmppNode } from '../../node/xmpp-node.js';
import type { RateSample } from './stanza-rate.js';

/**
 * What the status page shows, as JSON (`GET /status.json`, and each
 * server-sent event): the sources are the ones the MMP prints from, so the
 * page says what `xmpp cluster status`, `xmpp status` and `xmpp federation
 * connections` say. No secret: call bridges by name and session only (never
 * `xmpp callbridge list`'s secrets). Ages are computed here, on the node's
 * clock, so that a browser on another clock shows the same seconds.
 */

/** What `xmpp federation connections` lists (src/node/federation-view.ts). */
export type FederationSurveyLike = FederationSurvey;
type FederationRow = FederationConnectionRow;

export interface StatusSources {
  readonly node: XmppNode;
  readonly rate: () => RateSample[];
  /** `node.federation.survey()` once the node federates; undefined: no federation on this node. */
  readonly federation?: (() => Promise<FederationSurveyLike>) | undefined;
}

export interface MemberRow {
  readonly name: string;
  readonly endpoint: string;
  readonly role: string;
  readonly leader: boolean;
  readonly self: boolean;
  readonly lastContact: string | null;
  /** Seconds since the last contact; null for this node itself or never. */
  readonly lastContactAgo: number | null;
  readonly unreachableSince: string | null;
  readonly match: number | null;
  readonly lag: number | null;
}

export interface CallbridgeRow {
  readonly name: string;
  /** Its component address when connected somewhere, else null. */
  readonly address: string | null;
  /** The member it is connected to, by name, as `xmpp status` lists it. */
  readonly node: string | null;
  readonly peer: string | null;
  readonly since: string | null;
}

export interface StatusSnapshot {
  readonly now: string;
  readonly node: string;
  readonly service: string;
  readonly domain: string | null;
  /** null: this node is no cluster member (standalone). */
  readonly cluster: {
    readonly state: string;
    readonly term: number;
    readonly commitIndex: number;
    readonly appliedIndex: number;
    readonly quorum: ClusterStatusView['quorum'];
    readonly members: readonly MemberRow[];
  } | null;
  readonly callbridges: readonly CallbridgeRow[];
  readonly federation: {
    readonly rows: ReadonlyArray<Omit<FederationRow, 'lastActivity' | 'id'> & { readonly idleSeconds: number }>;
    readonly unanswered: readonly string[];
  } | null;
  readonly rate: readonly RateSample[];
}

export async function statusSnapshot(sources: StatusSources, now = new Date()): Promise<StatusSnapshot> {
  const { node } = sources;
  const control = node.cluster;
  const view = control?.isMember() ? await control.status() : undefined;
  const service = node.serviceState();
  const fed = sources.federation ? await sources.federation() : undefined;
  return {
    now: now.toISOString(),
    node: node.name,
    service: service.state,
    domain: node.settings().domain ?? null,
    cluster: view
      ? {
          state: view.state,
          term: view.term,
          commitIndex: view.commitIndex,
          appliedIndex: view.appliedIndex,
          quorum: view.quorum,
          members: view.members.map((m) => ({
            name: m.name,
            endpoint: m.endpoint,
            role: m.role,
            leader: m.leader,
            self: m.self,
            lastContact: m.lastContact?.toISOString() ?? null,
            lastContactAgo: m.lastContact ? Math.max(0, now.getTime() - m.lastContact.getTime()) / 1000 : null,
            unreachableSince: m.unreachableSince?.toISOString() ?? null,
            match: m.match,
            lag: m.lag,
          })),
        }
      : null,
    callbridges: callbridgeRows(node, view),
    federation: fed
      ? {
          rows: fed.rows.map(({ id: _id, lastActivity, ...row }) => ({ ...row, idleSeconds: Math.max(0, Math.round((now.getTime() - lastActivity) / 1000)) })),
          unanswered: fed.unanswered,
        }
      : null,
    rate: sources.rate(),
  };
}

/** Every registered call bridge, with the session it has somewhere in the cluster (as `xmpp status` lists them), by name. */
function callbridgeRows(node: XmppNode, view: ClusterStatusView | undefined): CallbridgeRow[] {
  const domain = node.settings().domain ?? '';
  const names = new Map(view?.members.map((m) => [m.id, m.name]) ?? []);
  const sessions = new Map<string, { address: string; node: string; peer: string; since: Date }>();
  for (const s of node.status().sessions) sessions.set(s.callbridge.toLowerCase(), { address: s.address, node: node.name, peer: s.peer, since: s.since });
  for (const s of node.clusterSessions() ?? []) {
    if (s.node === node.identity.id) continue;
    const name = componentName(s.address, domain);
    if (name !== null) sessions.set(name.toLowerCase(), { address: s.address, node: names.get(s.node) ?? s.node, peer: s.peer, since: s.since });
  }
  return node
    .configuration()
    .callbridges()
    .map((c) => {
      const s = sessions.get(c.name.toLowerCase());
      return { name: c.name, address: s?.address ?? null, node: s?.node ?? null, peer: s?.peer ?? null, since: s?.since.toISOString() ?? null };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}
