import { OperatorError } from '../../base/operator-error.js';
import { DEFAULT_CLUSTER_PORT, NOT_CLUSTERED, NOT_MEMBER, type ClusterControl, type JoinTarget } from '../../node/cluster-control.js';
import type { XmppNode } from '../../node/xmpp-node.js';
import { expiryWarningText } from '../../pki/expiry.js';
import { certificateExpiryWarnings, WARNING_PREFIX } from '../certificate-warnings.js';
import { clusterStatusJson, formatClusterStatus } from '../cluster-status-layout.js';
import { UsageError, type CommandSpec } from '../command.js';
import { json } from '../layout.js';

/** `xmpp cluster trust|enable|disable|initialize|join|status|remove|leave` (reference: commands.md, "Cluster"). */

const JOIN_USAGE = 'xmpp cluster join <cluster>[:<port>]';

export interface ClusterCommandsOptions {
  node: XmppNode;
  /** The clock certificate expiry is judged by (tests set it). */
  now?: () => Date;
}

export function clusterCommands({ node, now = () => new Date() }: ClusterCommandsOptions): CommandSpec[] {
  /** The membership side, once clustering is enabled here and the node process runs it. */
  const cluster = (): ClusterControl => {
    if (!node.settings().clusterEnabled) throw new OperatorError(NOT_CLUSTERED);
    if (!node.cluster) throw new OperatorError('the node process is not running; start it to use the cluster commands');
    return node.cluster;
  };
  return [
    {
      path: ['xmpp', 'cluster', 'trust'],
      usage: 'xmpp cluster trust <bundle> | none | insecure-lab',
      summary: 'set the trust bundle (a PEM file in the certificate folder) that cluster members must chain to',
      args: [1, 1],
      run: async (ctx) => {
        await node.setClusterTrust(ctx.args[0]!);
        return '';
      },
    },
    {
      path: ['xmpp', 'cluster', 'enable'],
      usage: 'xmpp cluster enable',
      summary: 'mark this node for clustering (the XMPP server must be disabled)',
      args: [0, 0],
      run: async () => {
        await node.setClusterEnabled(true);
        return '';
      },
    },
    {
      path: ['xmpp', 'cluster', 'disable'],
      usage: 'xmpp cluster disable',
      summary: 'undo xmpp cluster enable (refused while this node is one of several members)',
      args: [0, 0],
      run: async () => {
        await node.setClusterEnabled(false);
        return '';
      },
    },
    {
      path: ['xmpp', 'cluster', 'initialize'],
      usage: 'xmpp cluster initialize',
      summary: 'create a one-node cluster on this node, seeded with its domain, call bridges and trust bundle',
      args: [0, 0],
      run: async () => {
        await cluster().initialize();
        return '';
      },
    },
    {
      path: ['xmpp', 'cluster', 'join'],
      usage: JOIN_USAGE,
      summary: 'join the cluster that <cluster> (address or name of any member, optionally :port of its cluster link) belongs to',
      args: [1, 1],
      run: async (ctx) => {
        const outcome = await cluster().join(parseJoinTarget(ctx.args[0]!));
        return `Joined cluster: ${outcome.peers} peers, leader ${outcome.leader}`;
      },
    },
    {
      path: ['xmpp', 'cluster', 'status'],
      usage: 'xmpp cluster status [--json]',
      summary: 'show the cluster: state, peers, leader, replication',
      args: [0, 0],
      run: async (ctx) => {
        const c = cluster();
        if (!c.isMember()) throw new OperatorError(NOT_MEMBER);
        const view = await c.status();
        const at = now();
        const warnings = await certificateExpiryWarnings(node, at);
        if (ctx.json) return json(clusterStatusJson(view, warnings));
        return formatClusterStatus(view, at, warnings.map((w) => WARNING_PREFIX + expiryWarningText(w)));
      },
    },
    {
      path: ['xmpp', 'cluster', 'remove'],
      usage: 'xmpp cluster remove <peer>',
      summary: 'remove another member (by address as cluster status lists it, or by node name)',
      args: [1, 1],
      run: async (ctx) => `Removed ${await cluster().remove(ctx.args[0]!)} from the cluster.`,
    },
    {
      path: ['xmpp', 'cluster', 'leave'],
      usage: 'xmpp cluster leave',
      summary: 'leave the cluster and keep running standalone with a copy of its configuration',
      args: [0, 0],
      run: async () => {
        await cluster().leave();
        return '';
      },
    },
  ];
}

/** `10.0.0.1`, `10.0.0.1:6000`, `cb1.example.com`, `[fd00::1]:6000`. */
export function parseJoinTarget(word: string): JoinTarget {
  const bracketed = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(word);
  const plain = /^([^:\s]+)(?::(\d+))?$/.exec(word);
  const m = bracketed ?? plain;
  if (!m) throw new UsageError(JOIN_USAGE);
  const port = m[2] === undefined ? DEFAULT_CLUSTER_PORT : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new OperatorError(`'${m[2]}' is not a port number (1 to 65535)`);
  return { host: m[1]!, port };
}
