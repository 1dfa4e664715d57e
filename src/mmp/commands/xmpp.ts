import type { XmppNode, ServiceState } from '../../node/xmpp-node.js';
import { formatBinding } from '../../component/component-server.js';
import type { ComponentSessionInfo } from '../../component/component-session.js';
import { OperatorError } from '../../base/operator-error.js';
import { UsageError, type CommandContext, type CommandSpec } from '../command.js';
import { cmsTime, json, labelled, orNone, table } from '../layout.js';
import { expiryWarningText, type ExpiryWarning } from '../../pki/expiry.js';
import { certificateExpiryWarnings, WARNING_PREFIX } from '../certificate-warnings.js';
import { expiryWarningJson } from '../cluster-status-layout.js';

/**
 * The node's own XMPP settings: `xmpp`, `xmpp status`, `domain`, `listen`,
 * `certs`, `enable`, `disable`, `reset` (reference: commands.md, "Node settings").
 */

/** Checks that key, certificate and bundle in the certificate folder parse and belong together. */
export type CertificateCheck = (folder: string, key: string, cert: string, bundle?: string) => Promise<void>;

export interface XmppCommandsOptions {
  node: XmppNode;
  checkCertificates: CertificateCheck;
  /** The clock certificate expiry is judged by (tests set it). */
  now?: () => Date;
}

const LABEL_WIDTH = 'Listening interfaces'.length;

export function statusLine(service: ServiceState): string {
  switch (service.state) {
    case 'running':
      return 'XMPP server running';
    case 'disabled':
      return 'XMPP server disabled';
    case 'not-configured':
      return `XMPP server not configured: ${service.missing}`;
    case 'failed':
      return `XMPP server not running: ${service.reason}`;
  }
}

/** ours: `Warning:` lines after a layout, each on its own line at the end (certificate expiry). */
function withWarnings(text: string, warnings: readonly ExpiryWarning[]): string {
  return warnings.length ? `${text}\n${warnings.map((w) => WARNING_PREFIX + expiryWarningText(w)).join('\n')}` : text;
}

export function xmppCommands({ node, checkCertificates, now = () => new Date() }: XmppCommandsOptions): CommandSpec[] {
  return [
    {
      path: ['xmpp'],
      usage: 'xmpp [--json]',
      summary: "show this node's XMPP settings",
      args: [0, 0],
      run: async (ctx) => {
        // The federation settings hold the dialback secret: `xmpp federation status` shows them, never the secret.
        const { federation: _withSecret, ...s } = node.settings();
        const status = statusLine(node.serviceState());
        const warnings = await certificateExpiryWarnings(node, now());
        if (ctx.json) return json({ ...s, status, certificateWarnings: warnings.map(expiryWarningJson) });
        const layout = labelled(
          [
            ['Enabled', String(s.enabled)],
            ['Clustered', String(s.clusterEnabled)],
            ['Domain', orNone(s.domain)],
            ['Listening interfaces', s.listen.length ? s.listen.join(' ') : '<none>'],
            ['Key file', orNone(s.certs?.key)],
            ['Certificate file', orNone(s.certs?.cert)],
            ['CA Bundle file', orNone(s.certs?.bundle)],
            ['STATUS', status],
          ],
          LABEL_WIDTH,
        );
        return withWarnings(layout, warnings);
      },
    },
    {
      path: ['xmpp', 'status'],
      usage: 'xmpp status [--json]',
      summary: 'what the XMPP server is doing now: state, ports, connected call bridges',
      args: [0, 0],
      run: async (ctx) => {
        const st = node.status();
        const s = node.settings();
        const listening = st.service.state === 'running' ? st.service.bindings.map(formatBinding).join(' ') : '<none>';
        const cluster = await clusterRole(node);
        const sessions = sessionRows(node, st.sessions, cluster?.names);
        const warnings = await certificateExpiryWarnings(node, now());
        if (ctx.json) {
          return json({
            status: statusLine(st.service),
            clustered: s.clusterEnabled,
            role: cluster?.role ?? 'standalone',
            leader: cluster?.leader ?? null,
            listening: st.service.state === 'running' ? st.service.bindings.map(formatBinding) : [],
            counters: st.counters,
            sessions: sessions.map((x) => ({ ...x, since: x.since.toISOString() })),
            certificateWarnings: warnings.map(expiryWarningJson),
          });
        }
        const head = labelled(
          [
            ['STATUS', statusLine(st.service)],
            ['Clustered', String(s.clusterEnabled)],
            ['Role', cluster?.role ?? 'standalone'],
            ['Leader', cluster?.leader ?? '<none>'],
            ['Listening on', listening],
            ['Stanzas routed', String(st.counters.routed)],
            ['Stanzas bounced', String(st.counters.bounced)],
            ['Call bridges', cluster ? `${st.sessions.length} connected here, ${sessions.length} in the cluster` : `${st.sessions.length} connected`],
          ],
          LABEL_WIDTH,
        );
        if (sessions.length === 0) return withWarnings(head, warnings);
        const rows = [['Component', 'Peer', 'Node', 'Connected since', 'In', 'Out']];
        for (const x of sessions) {
          rows.push([x.address, x.peer, x.node, cmsTime(x.since), x.stanzasIn === null ? '-' : String(x.stanzasIn), x.stanzasOut === null ? '-' : String(x.stanzasOut)]);
        }
        return withWarnings(`${head}\n\n${table(rows)}`, warnings);
      },
    },
    {
      path: ['xmpp', 'domain'],
      usage: 'xmpp domain <domain>',
      summary: 'set the XMPP domain (a DNS name)',
      args: [1, 1],
      run: async (ctx) => {
        await node.setDomain(ctx.args[0]!);
        return '';
      },
    },
    {
      path: ['xmpp', 'listen'],
      usage: 'xmpp listen <interface> [<interface>...] | none',
      summary: 'set the interfaces the call-bridge ports listen on: a-d, a network interface name, or an IP address',
      args: [1, 16],
      run: async (ctx) => {
        await node.setListen(ctx.args);
        return '';
      },
    },
    {
      path: ['xmpp', 'certs'],
      usage: 'xmpp certs <key-file> <crt-file> [<crt-bundle>] | none',
      summary: "set this node's key, certificate and CA bundle (files in the certificate folder)",
      args: [1, 3],
      run: async (ctx) => {
        const [key, cert, bundle] = ctx.args;
        if (ctx.args.length === 1) {
          if (key !== 'none') throw new UsageError('xmpp certs <key-file> <crt-file> [<crt-bundle>] | none');
          await node.setCertificates(null);
          return '';
        }
        await checkCertificates(node.certFolder, key!, cert!, bundle);
        await node.setCertificates({ key: key!, cert: cert!, bundle: bundle ?? null });
        return '';
      },
    },
    {
      path: ['xmpp', 'enable'],
      usage: 'xmpp enable',
      summary: 'start the XMPP server (needs a domain and listening interfaces)',
      args: [0, 0],
      run: async () => {
        await node.enable();
        return '';
      },
    },
    {
      path: ['xmpp', 'disable'],
      usage: 'xmpp disable',
      summary: 'stop the XMPP server: ports close, every session gets <system-shutdown/>',
      args: [0, 0],
      run: async () => {
        await node.disable();
        return '';
      },
    },
    {
      path: ['xmpp', 'reset'],
      usage: 'xmpp reset [--force]',
      summary: "clear this node's XMPP settings, call bridges and cluster membership (identity, host key, users and certificates stay)",
      args: [0, 0],
      run: async (ctx) => {
        await confirmReset(ctx);
        await node.reset();
        return '';
      },
    },
  ];
}

const RESET_QUESTION = 'This removes all XMPP configuration from this node. Continue? (yes/no)';

async function confirmReset(ctx: CommandContext): Promise<void> {
  if (ctx.force) return;
  if (ctx.mode === 'exec') throw new OperatorError('xmpp reset asks for confirmation; in exec mode use xmpp reset --force');
  const answer = await ctx.terminal.prompt(RESET_QUESTION, { echo: true });
  if (answer?.trim().toLowerCase() !== 'yes') throw new OperatorError('reset cancelled; nothing was changed');
}

interface SessionRow {
  address: string;
  peer: string;
  node: string;
  since: Date;
  /** Counted by the node the session is on: known here only for this node's sessions. */
  stanzasIn: number | null;
  stanzasOut: number | null;
}

/** In a cluster: this node's role (as cluster status names it), the leader, and member names by id. */
async function clusterRole(node: XmppNode): Promise<{ role: string; leader: string; names: Map<string, string> } | undefined> {
  if (!node.cluster?.isMember()) return undefined;
  const view = await node.cluster.status();
  const leader = view.members.find((m) => m.leader);
  return { role: view.state, leader: leader ? `${leader.name} ${leader.endpoint}` : '<none>', names: new Map(view.members.map((m) => [m.id, m.name])) };
}

/** This node's sessions with their counters, then (in a cluster) every other node's, sorted by address. */
function sessionRows(node: XmppNode, local: ComponentSessionInfo[], names: Map<string, string> | undefined): SessionRow[] {
  const rows: SessionRow[] = local.map((x) => ({ address: x.address, peer: x.peer, node: node.name, since: x.since, stanzasIn: x.stanzasIn, stanzasOut: x.stanzasOut }));
  for (const x of node.clusterSessions() ?? []) {
    if (x.node === node.identity.id) continue;
    rows.push({ address: x.address, peer: x.peer, node: names?.get(x.node) ?? x.node, since: x.since, stanzasIn: null, stanzasOut: null });
  }
  return rows.sort((a, b) => a.address.localeCompare(b.address));
}
