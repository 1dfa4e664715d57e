import type { Registry } from 'prom-client';
import type { ClusterRouter } from '../../cluster/routing/cluster-router.js';
import type { ProposalTiming } from '../../cluster/member/raft-member-options.js';
import type { DnsService } from '../node/dns-service.js';
import type { ClusterStatusView } from '../node/cluster-control.js';
import type { XmppNode } from '../node/xmpp-node.js';
import { eventCounter, newMetricsRegistry, observedHistogram, scrapedCounter, scrapedGauge, type Sample } from '../observability/scraped-metrics.js';
import type { ClusterService } from '../../cluster/member/cluster-service.js';

/**
 * One node's Prometheus metrics (README, "Metrics and health"). Everything a
 * stanza touches is a plain counter of the router or the listener, copied in
 * at scrape time; only rare events (a proposal, a leader change) feed
 * prom-client directly. Every label is bounded: a condition or result name, a
 * Raft role, a member of the membership; never a JID, a stanza id or a secret.
 */

/** A federation stream as the federation service lists it (src/s2s/server-streams.ts, S2sStreamInfo). */
export interface FederationStreamLabels {
  readonly direction: string;
  readonly auth: string;
}

export interface NodeMetricsSources {
  readonly router?: ClusterRouter | undefined;
  readonly dns?: DnsService | undefined;
  readonly cluster?: ClusterService | undefined;
}

const RAFT_ROLES = ['leader', 'follower', 'candidate'] as const;
/** Operator changes commit in milliseconds on a LAN; the tail is an election or a timeout (10 s). */
const PROPOSAL_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class NodeMetrics {
  readonly registry: Registry;
  private sources: NodeMetricsSources = {};
  /** The cluster's status as of this scrape: read once (it is async), then by every Raft metric. */
  private status: ClusterStatusView | undefined;
  private federation: (() => readonly FederationStreamLabels[]) | undefined;
  private readonly leaderChanges;
  private readonly proposals;
  private offRole: (() => void) | undefined;

  constructor(private readonly node: XmppNode) {
    const r = (this.registry = newMetricsRegistry());
    const counters = () => node.router.counters;
    scrapedCounter(r, { name: 'stanzas_routed_total', help: 'Stanzas handed to a route (a call bridge, a peer node, a remote domain) by this node.', read: () => counters().routed });
    scrapedCounter(r, {
      name: 'stanzas_bounced_total',
      help: 'Undeliverable stanzas answered with an error, by stanza error condition (RFC 6120 section 8.3.3).',
      labelNames: ['condition'],
      read: () => Object.entries(node.router.bounces ?? {}).map(([condition, n]): Sample => [{ condition }, n ?? 0]),
    });
    scrapedCounter(r, { name: 'stanzas_dropped_total', help: 'Undeliverable stanzas dropped without a bounce (errors, iq results).', read: () => counters().dropped });
    scrapedCounter(r, { name: 'stanzas_answered_total', help: 'Stanzas to the server domain answered by the server itself.', read: () => counters().answered });
    scrapedCounter(r, {
      name: 'stanzas_forwarded_total',
      help: 'Stanza frames sent to (out) and received from (in) peer nodes over the cluster links, resends included.',
      labelNames: ['direction'],
      read: () => {
        const f = this.sources.router?.forwarded;
        return f ? [[{ direction: 'out' }, f.toPeers], [{ direction: 'in' }, f.fromPeers]] : [];
      },
    });
    scrapedGauge(r, { name: 'component_sessions', help: 'Call bridge (XEP-0114 component) sessions authenticated on this node now.', read: () => node.status().sessions.length });
    scrapedCounter(r, {
      name: 'component_handshakes_total',
      help: 'Component handshakes checked, by result: accepted, or refused (a wrong secret or no such call bridge).',
      labelNames: ['result'],
      read: () => Object.entries(node.status().handshakes).map(([result, n]): Sample => [{ result }, n]),
    });
    scrapedCounter(r, {
      name: 'dns_queries_total',
      help: 'DNS packets to the health-aware responder, by result: answered, dropped (not a query), rate_limited, tcp_refused (connection cap).',
      labelNames: ['result'],
      read: () => {
        const c = this.sources.dns?.counters();
        if (!c) return [];
        return [
          [{ result: 'answered' }, c.answered],
          [{ result: 'dropped' }, c.dropped],
          [{ result: 'rate_limited' }, c.rateLimited],
          [{ result: 'tcp_refused' }, c.tcpRefused],
        ];
      },
    });
    scrapedGauge(r, {
      name: 'federation_streams',
      help: 'Server-to-server streams open now, by direction and authentication.',
      labelNames: ['direction', 'auth'],
      read: () => countBy(this.federation?.() ?? []),
    });
    this.raftMetrics(r);
    this.leaderChanges = eventCounter(r, { name: 'raft_leader_changes_total', help: 'Times this node saw the Raft leader change to another known leader.' });
    this.proposals = observedHistogram(r, {
      name: 'raft_proposal_duration_seconds',
      help: 'From a proposal of this node to its outcome here (waiting for a leader included), by result: applied, refused, failed.',
      labelNames: ['result'],
      buckets: PROPOSAL_BUCKETS,
    });
  }

  /** RaftMemberOptions.onProposal */
  readonly proposal = (timing: ProposalTiming): void => this.proposals.observe({ result: timing.result }, timing.seconds);

  /** The parts started after the node: its cluster router, its DNS service, its ClusterService. */
  attach(sources: NodeMetricsSources): void {
    this.sources = { ...this.sources, ...sources };
    if (sources.cluster) {
      this.offRole?.();
      let leader = '';
      this.offRole = sources.cluster.on('role', (e) => {
        if (e.leader !== '' && e.leader !== leader && leader !== '') this.leaderChanges.inc();
        if (e.leader !== '') leader = e.leader;
      });
    }
  }

  /** The federation service's `connections()`, once it runs (issue 16: wired when federation lands). */
  federationStreams(source: () => readonly FederationStreamLabels[]): void {
    this.federation = source;
  }

  /** Prometheus text format (prom-client's content type: `registry.contentType`). */
  async render(): Promise<string> {
    const cluster = this.node.cluster;
    this.status = cluster?.isMember() ? await cluster.status().catch(() => undefined) : undefined;
    return this.registry.metrics();
  }

  close(): void {
    this.offRole?.();
    this.registry.clear();
  }

  private raftMetrics(r: Registry): void {
    const of = (value: (s: ClusterStatusView) => number) => () => (this.status ? value(this.status) : []);
    scrapedGauge(r, { name: 'raft_member', help: '1 while this node is a member of a cluster (then the raft_* metrics describe it).', read: () => (this.status ? 1 : 0) });
    scrapedGauge(r, { name: 'raft_term', help: 'The current Raft term.', read: of((s) => s.term) });
    scrapedGauge(r, { name: 'raft_commit_index', help: 'The highest log index known committed.', read: of((s) => s.commitIndex) });
    scrapedGauge(r, { name: 'raft_applied_index', help: 'The highest log index applied to the replicated state here.', read: of((s) => s.appliedIndex) });
    scrapedGauge(r, {
      name: 'raft_role',
      help: "This node's Raft role: 1 for the current one (a pre-candidate counts as candidate).",
      labelNames: ['role'],
      read: () => {
        const s = this.status;
        return s ? RAFT_ROLES.map((role): Sample => [{ role }, s.state.toLowerCase() === role ? 1 : 0]) : [];
      },
    });
    scrapedGauge(r, { name: 'raft_leader_known', help: '1 when this member knows a leader (it can route and change settings).', read: of((s) => (s.members.some((m) => m.leader) ? 1 : 0)) });
    scrapedGauge(r, {
      name: 'peer_up',
      help: 'Whether the cluster link to each other member is up (1) or down (0).',
      labelNames: ['peer', 'peer_id'],
      read: () => this.peers().map((m): Sample => [{ peer: m.name, peer_id: m.id }, m.unreachableSince === null ? 1 : 0]),
    });
    scrapedGauge(r, {
      name: 'peer_last_contact_seconds',
      help: 'How long ago this node last heard from each other member (the transport measures no round-trip time).',
      labelNames: ['peer', 'peer_id'],
      read: () => {
        const now = Date.now();
        return this.peers().flatMap((m): Sample[] => (m.lastContact ? [[{ peer: m.name, peer_id: m.id }, Math.max(0, now - m.lastContact.getTime()) / 1000]] : []));
      },
    });
  }

  private peers() {
    return this.status?.members.filter((m) => !m.self) ?? [];
  }
}

function countBy(streams: readonly FederationStreamLabels[]): Sample[] {
  const counts = new Map<string, { labels: FederationStreamLabels; n: number }>();
  for (const s of streams) {
    const key = `${s.direction}\u0000${s.auth}`;
    const c = counts.get(key);
    if (c) c.n++;
    else counts.set(key, { labels: { direction: s.direction, auth: s.auth }, n: 1 });
  }
  return [...counts.values()].map((c): Sample => [{ ...c.labels }, c.n]);
}
