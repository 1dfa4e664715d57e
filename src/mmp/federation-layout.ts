import type { FederationConnectionRow, FederationSurvey } from '../node/federation-view.js';
import type { PolicyEntry, PrivacyMode, StaticRoute } from '../s2s/federation-policy.js';
import type { FederationConfig, SecurityMode } from '../s2s/server-streams.js';
import { labelled, table } from './layout.js';

/**
 * The layouts of `xmpp federation status | allow list | deny list | route
 * list | connections` (federation.md, "Commands"), and their `--json`
 * documents. The dialback secret is never part of any: status says only
 * whether one is set.
 */

/** "Client certificates" is the longest label; the block is padded to it plus one (federation.md). */
const STATUS_WIDTH = 20;

const SECURITY_WORDS: Record<SecurityMode, string> = { none: 'No TLS', optional: 'TLS optional', required: 'TLS required' };
const PRIVACY_WORDS: Record<PrivacyMode, string> = { off: 'Off', allow: 'Allow list', deny: 'Deny list' };

const domains = (n: number): string => `${n} ${n === 1 ? 'domain' : 'domains'}`;
const onOff = (on: boolean): string => (on ? 'on' : 'off');

export interface ConnectionCounts {
  readonly total: number;
  readonly incoming: number;
  readonly outgoing: number;
}

export function connectionCounts(rows: readonly FederationConnectionRow[]): ConnectionCounts {
  const incoming = rows.filter((r) => r.direction === 'incoming').length;
  return { total: rows.length, incoming, outgoing: rows.length - incoming };
}

/** One `Warning:` line per member that did not answer: its connections are missing from what is printed. */
export function unansweredLines(survey: FederationSurvey): string[] {
  return survey.unanswered.map((name) => `Warning: ${name} did not answer; its federation connections are not listed`);
}

export function formatFederationStatus(f: FederationConfig, survey: FederationSurvey): string {
  const c = connectionCounts(survey.rows);
  const block = labelled(
    [
      ['Federation', f.enabled ? 'enabled' : 'disabled'],
      ['Dialback secret', f.dialbackSecret === null ? 'not set' : 'set'],
      ['Security mode', SECURITY_WORDS[f.securityMode]],
      ['Client certificates', f.clientCertsRequired ? 'required' : 'not required'],
      ['SASL EXTERNAL', `incoming ${onOff(f.saslExternal.incoming)}, outgoing ${onOff(f.saslExternal.outgoing)}`],
      ['Privacy mode', PRIVACY_WORDS[f.privacyMode]],
      ['Allow list', domains(f.allow.length)],
      ['Deny list', domains(f.deny.length)],
      ['Static routes', domains(f.routes.length)],
      ['Connections', `${c.total} (${c.incoming} incoming, ${c.outgoing} outgoing)`],
    ],
    STATUS_WIDTH,
  );
  return [block, ...unansweredLines(survey)].join('\n');
}

/** `--json` of status: the settings without the secret (`dialbackSecretSet`), and the connection counts. */
export function federationStatusJson(f: FederationConfig, survey: FederationSurvey): unknown {
  return {
    enabled: f.enabled,
    dialbackSecretSet: f.dialbackSecret !== null,
    securityMode: f.securityMode,
    clientCertsRequired: f.clientCertsRequired,
    saslExternal: { incoming: f.saslExternal.incoming, outgoing: f.saslExternal.outgoing },
    privacyMode: f.privacyMode,
    allow: f.allow.map((e) => ({ domain: e.domain, direction: e.direction })),
    deny: f.deny.map((e) => ({ domain: e.domain, direction: e.direction })),
    routes: f.routes.map((r) => ({ domain: r.domain, targets: [...r.targets] })),
    connections: connectionCounts(survey.rows),
    unanswered: [...survey.unanswered],
  };
}

/** `<domain>  <direction>` lines, sorted by domain (the settings keep them so). */
export function formatPolicyList(entries: readonly PolicyEntry[]): string {
  return table(entries.map((e) => [e.domain, e.direction]));
}

/** `<domain>  <host>:<port>`, one line per target. */
export function formatRoutes(routes: readonly StaticRoute[]): string {
  return table(routes.flatMap((r) => r.targets.map((t) => [r.domain, t])));
}

/** `m:ss` since the last stanza either way; minutes keep counting past an hour. */
export function idle(lastActivity: number, now: number): string {
  const s = Math.max(0, Math.floor((now - lastActivity) / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

const HEADER = ['Domain', 'Peer address', 'Direction', 'Security', 'Auth', 'Idle', 'Node'];
/** federation.md's columns; a wider cell widens its column, always leaving at least one space. */
const MIN_WIDTHS = [14, 18, 11, 10, 10, 8];

/** Sorted by domain, then node, then direction and peer address: one place per stream, stable between runs. */
export function sortedRows(rows: readonly FederationConnectionRow[]): FederationConnectionRow[] {
  const key = (r: FederationConnectionRow) => [r.remoteDomain, r.node, r.direction, r.peerAddress];
  return [...rows].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! < kb[i]! ? -1 : 1;
    return 0;
  });
}

export function formatConnections(survey: FederationSurvey, now: number): string {
  const cells = sortedRows(survey.rows).map((r) => [
    r.remoteDomain,
    r.peerAddress,
    r.direction === 'incoming' ? 'Incoming' : 'Outgoing',
    r.tls ?? 'none',
    r.auth === 'sasl' ? 'SASL' : 'dialback',
    idle(r.lastActivity, now),
    r.node,
  ]);
  const lines = cells.length === 0 ? ['No federation connections.'] : fixedColumns([HEADER, ...cells]);
  return [...lines, ...unansweredLines(survey)].join('\n');
}

function fixedColumns(rows: readonly (readonly string[])[]): string[] {
  const widths = MIN_WIDTHS.map((min, i) => Math.max(min, ...rows.map((row) => row[i]!.length + 1)));
  return rows.map((row) => row.map((cell, i) => (i < widths.length ? cell.padEnd(widths[i]!) : cell)).join(''));
}

export function connectionsJson(survey: FederationSurvey, now: number): unknown {
  return {
    connections: sortedRows(survey.rows).map((r) => ({
      domain: r.remoteDomain,
      localDomain: r.localDomain,
      peerAddress: r.peerAddress,
      direction: r.direction,
      tls: r.tls,
      auth: r.auth,
      idleSeconds: Math.max(0, Math.floor((now - r.lastActivity) / 1000)),
      node: r.node,
    })),
    unanswered: [...survey.unanswered],
  };
}
