import type { ClusterMemberView, ClusterStatusView } from '../node/cluster-control.js';
import { expiryWarningText, type ExpiryWarning } from '../pki/expiry.js';
import { cmsTime, labelled, orNone, table } from './layout.js';

/**
 * `xmpp cluster status` (reference: commands.md, "Cluster"): CMS's layout
 * first, word for word, so that existing scripts keep working; our additions
 * after one blank line.
 */

const LABEL_WIDTH = 'Certificate file'.length + 2;
export const INSECURE_LAB_MODE = 'INSECURE LAB MODE';

/**
 * `warnings`: ours, `Warning: ...` lines (certificate expiry) that end the
 * additions, never inside CMS's block, whose lines scripts parse.
 */
export function formatClusterStatus(view: ClusterStatusView, now: Date, warnings: readonly string[] = []): string {
  const lines: string[] = [`State: ${view.state}`];
  if (view.quorum.lost) lines.push(`Quorum: lost (reachable: ${view.quorum.reachable} of ${view.quorum.voters})`);
  lines.push('List of peers');
  for (const m of view.members) lines.push(m.leader ? `${m.endpoint} (Leader)` : m.endpoint);
  lines.push(`Last state change: ${cmsTime(view.lastStateChange)}`);
  lines.push(
    labelled(
      [
        ['Key file', orNone(view.keyFile)],
        ['Certificate file', orNone(view.certificateFile)],
        ['Trust bundle', view.insecureLab ? `${INSECURE_LAB_MODE} (peer certificates are not checked)` : orNone(view.trustBundle)],
      ],
      LABEL_WIDTH,
    ),
  );
  const self = view.members.find((m) => m.self);
  const additions = labelled(
    [
      ['This node', self ? `${self.name} ${self.endpoint}` : '<not a member>'],
      ['Term', String(view.term)],
      ['Commit index', String(view.commitIndex)],
      ['Applied index', String(view.appliedIndex)],
    ],
    LABEL_WIDTH,
  );
  const peers = view.members.filter((m) => !m.self);
  const rows = [['Peer', 'Node', 'Role', 'Last contact', 'Match', 'Lag'], ...peers.map((m) => peerRow(m, now))];
  const tail = warnings.length ? `\n${warnings.join('\n')}` : '';
  return `${lines.join('\n')}\n\n${additions}${peers.length ? `\n${table(rows)}` : ''}${tail}`;
}

function peerRow(m: ClusterMemberView, now: Date): string[] {
  return [m.endpoint, m.name, m.role, lastContact(m, now), m.match === null ? '-' : String(m.match), m.lag === null ? '-' : String(m.lag)];
}

function lastContact(m: ClusterMemberView, now: Date): string {
  if (m.unreachableSince) return `unreachable since ${cmsTime(m.unreachableSince)}`;
  if (!m.lastContact) return 'never';
  const seconds = Math.max(0, now.getTime() - m.lastContact.getTime()) / 1000;
  return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s ago`;
}

/** `--json`: the view with times as ISO strings (keys documented in README); `certificateWarnings` ours, as the text form's lines. */
export function clusterStatusJson(view: ClusterStatusView, warnings: readonly ExpiryWarning[] = []): unknown {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  return {
    ...view,
    certificateWarnings: warnings.map(expiryWarningJson),
    insecureLabMode: view.insecureLab,
    lastStateChange: view.lastStateChange.toISOString(),
    members: view.members.map((m) => ({ ...m, lastContact: iso(m.lastContact), unreachableSince: iso(m.unreachableSince) })),
  };
}

/** One expiry warning for `--json`: what the line says, as fields. */
export function expiryWarningJson(w: ExpiryWarning): unknown {
  return { ...w, notAfter: w.notAfter.toISOString(), text: expiryWarningText(w) };
}
