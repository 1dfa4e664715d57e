import type { CommandSpec } from '../command.js';
import { OperatorError } from '../../base/operator-error.js';

/**
 * `xmpp cluster ...` with the syntax the reference gives. Clustering is
 * not built into this version of the node yet: each command says so in one
 * line and changes nothing.
 */

const CLUSTER_COMMANDS: Array<[sub: string, usage: string, summary: string, args: [number, number]]> = [
  ['enable', 'xmpp cluster enable', 'mark this node for clustering (the XMPP server must be disabled)', [0, 0]],
  ['disable', 'xmpp cluster disable', 'undo xmpp cluster enable', [0, 0]],
  ['initialize', 'xmpp cluster initialize', 'create a one-node cluster on this node', [0, 0]],
  ['join', 'xmpp cluster join <cluster>', 'join the cluster that <cluster> (address or name of any member) belongs to', [1, 1]],
  ['remove', 'xmpp cluster remove <peer>', 'remove another member from the cluster', [1, 1]],
  ['leave', 'xmpp cluster leave', 'leave the cluster and keep running standalone', [0, 0]],
  ['trust', 'xmpp cluster trust <bundle> | none | insecure-lab', 'set the trust bundle that cluster members must chain to', [1, 1]],
  ['status', 'xmpp cluster status [--json]', 'show the cluster: state, peers, leader, replication', [0, 0]],
];

export const CLUSTERING_UNAVAILABLE = 'clustering is not enabled on this node (this version runs standalone nodes only)';

export function clusterCommands(): CommandSpec[] {
  return CLUSTER_COMMANDS.map(([sub, usage, summary, args]) => ({
    path: ['xmpp', 'cluster', sub],
    usage,
    summary,
    args,
    run: async () => {
      throw new OperatorError(CLUSTERING_UNAVAILABLE);
    },
  }));
}
