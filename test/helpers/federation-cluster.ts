import { rm } from 'node:fs/promises';
import xml, { type Element } from '@xmpp/xml';
import { CallBridge, type ReceivedMessage } from '../../src/bridge/call-bridge.js';
import { ensureLoopbackAddress } from './bind-server.js';
import { type ClusterNodeProcess, clusterProcesses, expectOk, REFERENCE_PORTS } from './cluster-processes.js';
import { buildCluster, DOMAIN, statusOf } from './cluster-setup.js';
import { Condition } from './condition.js';
import { startFederationDns, type FederationDns, type FederationDnsEntry } from './federation-dns.js';
import { issueServerCertificate, makeFederationCa } from './federation-pki.js';
import { startProsody, type ProsodyServer } from './prosody-server.js';
import { tempDir } from './test-node.js';

/**
 * Issue 15's "In a cluster", with the real parts: three `xmpp-cluster node`
 * processes on 127.0.15.1-3 built into a cluster by the operator's MMP
 * commands, a real Prosody (other.test, component cb) on 127.0.15.11, and a
 * real BIND on 127.0.15.10 through which both sides find each other (the
 * nodes by --federation-dns, Prosody by libunbound's forward). Which node
 * Prosody reaches for a domain of ours is the test's choice of A record.
 */

export const NETWORK = '127.0.15';
export const DNS_ADDRESS = `${NETWORK}.10`;
export const PROSODY_ADDRESS = `${NETWORK}.11`;
export const PROSODY_DOMAIN = 'other.test';
/** Prosody's XEP-0114 component, the call bridges' federated counterpart. */
export const PROSODY_COMPONENT = `cb.${PROSODY_DOMAIN}`;
export const PROSODY_COMPONENT_SECRET = 'component-secret-cluster';
export const COMPONENT_PORT = REFERENCE_PORTS.component[0]!;

export interface FederatedCluster {
  nodes: ClusterNodeProcess[];
  dns: FederationDns;
  prosody: ProsodyServer;
  /** The secret of call bridge cb1 (registered by the cluster's first node). */
  cb1Secret: string;
  /** Points our domains at nodes, as Prosody will look them up (`domain` → node). */
  pointAt(targets: Record<string, ClusterNodeProcess>): Promise<void>;
  close(): Promise<void>;
}

/**
 * The BIND zone: Prosody's domain and component at Prosody, each of ours at
 * the node named for it. A TTL of 5 s (federation-dns.ts): a test that moves
 * a name must allow for libunbound's cache.
 */
function entries(targets: Record<string, ClusterNodeProcess>): FederationDnsEntry[] {
  return [
    { domain: PROSODY_DOMAIN, address: PROSODY_ADDRESS },
    { domain: PROSODY_COMPONENT, address: PROSODY_ADDRESS },
    ...Object.entries(targets).map(([domain, node]) => ({ domain, address: node.address })),
  ];
}

/**
 * Starts BIND, the three node processes (their federation resolver at
 * BIND), builds the cluster (node 1 initializes and leads, 2 and 3 join),
 * and Prosody with TLS required and dialback: its certificate comes from a
 * CA our nodes do not trust and ours are self-signed, so TLS encrypts and
 * dialback authenticates, which is what makes a db:verify travel. The
 * federation settings are left to the test (they are what it checks).
 */
export async function federatedCluster(targets: (nodes: ClusterNodeProcess[]) => Record<string, ClusterNodeProcess>): Promise<FederatedCluster> {
  await Promise.all([1, 2, 3].map((i) => `${NETWORK}.${i}`).concat(DNS_ADDRESS, PROSODY_ADDRESS).map(ensureLoopbackAddress));
  const cleanups: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  };
  try {
    // The zone is written once the node addresses are known; they are fixed (NETWORK.1-3), so start BIND with Prosody's part only.
    const dns = await startFederationDns({ address: DNS_ADDRESS, entries: entries({}) });
    cleanups.push(() => dns.stop());
    const { root, nodes } = await clusterProcesses(3, { network: NETWORK, firstAddress: 1, args: ['--federation-dns', `${dns.address}:${dns.port}`] });
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    cleanups.push(() => Promise.all(nodes.map(stopForGood)));
    const pointAt = (t: Record<string, ClusterNodeProcess>) => dns.update(entries(t));
    await pointAt(targets(nodes));
    const cb1Secret = await buildCluster(root, nodes);
    const ca = await makeFederationCa(await tempDir('federation-cluster-ca-'));
    cleanups.push(() => rm(ca.dir, { recursive: true, force: true }));
    const cert = await issueServerCertificate(ca, [PROSODY_DOMAIN, PROSODY_COMPONENT]);
    const prosody = await startProsody({
      domain: PROSODY_DOMAIN,
      address: PROSODY_ADDRESS,
      components: [{ name: 'cb', secret: PROSODY_COMPONENT_SECRET }],
      s2s: { requireEncryption: true, secureAuth: false, dialback: true, tls: { caFile: ca.certFile, certFile: cert.certFile, keyFile: cert.keyFile } },
      dns,
    });
    cleanups.push(() => prosody.stop());
    return { nodes, dns, prosody, cb1Secret, pointAt, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** A node that may have been stopped (SIGSTOP) or killed: continued, then killed for good. */
async function stopForGood(n: ClusterNodeProcess): Promise<void> {
  if (n.process && n.process.child.exitCode === null && n.process.child.signalCode === null) n.process.child.kill('SIGCONT');
  await n.kill('SIGKILL');
}

/** The leader, once every running node agrees on it (bounded: `cluster status` has no event to wait on). */
export async function agreedLeader(nodes: readonly ClusterNodeProcess[], timeoutMs = 30_000): Promise<ClusterNodeProcess> {
  const deadline = Date.now() + timeoutMs;
  let seen: Array<string | undefined> = [];
  while (Date.now() < deadline) {
    seen = await Promise.all(nodes.map((n) => statusOf(n).then((s) => s.leader, () => undefined)));
    const leader = seen[0];
    const found = nodes.find((n) => `${n.address}:${COMPONENT_PORT}` === leader);
    if (found && seen.every((s) => s === leader)) return found;
  }
  throw new Error(`the nodes ${nodes.map((n) => n.name).join(', ')} do not agree on a leader within ${timeoutMs} ms: ${JSON.stringify(seen)}`);
}

/** `xmpp callbridge add <name>` on `at`: the new call bridge's secret. */
export async function addCallBridge(at: ClusterNodeProcess, name: string): Promise<string> {
  return /Secret: (\S+)/.exec(await expectOk(at, `xmpp callbridge add ${name}`))![1]!;
}

/** Call bridge `name` of example.test, connected to `node`'s first component port. */
export function bridgeOn(node: ClusterNodeProcess, name: string, secret: string, onMessage?: (m: ReceivedMessage) => void): Promise<CallBridge> {
  return CallBridge.connect({ name, secret, domain: DOMAIN, host: node.address, port: COMPONENT_PORT, ...(onMessage ? { onMessage } : {}) });
}

/**
 * Prosody's component cb.other.test. It answers XEP-0199 pings, as an entity
 * must answer an iq get (RFC 6120 §8.2.3): Prosody hands a ping to
 * cb.other.test to the component, and our outgoing stream's liveness
 * (stream-liveness.ts) waits for that answer.
 */
export async function prosodyComponent(prosody: ProsodyServer, onMessage?: (m: ReceivedMessage) => void): Promise<CallBridge> {
  const bridge = await CallBridge.connect({ name: 'cb', secret: PROSODY_COMPONENT_SECRET, domain: PROSODY_DOMAIN, host: prosody.address, port: prosody.componentPort, ...(onMessage ? { onMessage } : {}) });
  bridge.on('stanza', (el: Element) => {
    if (el.name !== 'iq' || el.attrs.type !== 'get' || !el.getChild('ping', 'urn:xmpp:ping')) return;
    void bridge.sendElement(xml('iq', { type: 'result', id: String(el.attrs.id ?? ''), to: String(el.attrs.from ?? ''), from: String(el.attrs.to ?? '') })).catch(() => undefined);
  });
  return bridge;
}

export interface ConnectionRow {
  domain: string;
  peer: string;
  direction: string;
  security: string;
  auth: string;
  idle: string;
  node: string;
}

/**
 * `xmpp federation connections` read back by its header's columns (cells
 * such as `TLS 1.3` hold a space, so splitting on blanks would not do).
 */
export function parseConnections(text: string): ConnectionRow[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('Warning:'));
  const header = lines[0] ?? '';
  if (!header.startsWith('Domain')) return [];
  const names = ['Domain', 'Peer address', 'Direction', 'Security', 'Auth', 'Idle', 'Node'];
  const starts = names.map((n) => header.indexOf(n));
  const cell = (line: string, i: number) => line.slice(starts[i], i + 1 < starts.length ? starts[i + 1] : undefined).trim();
  return lines.slice(1).map((l) => ({
    domain: cell(l, 0),
    peer: cell(l, 1),
    direction: cell(l, 2),
    security: cell(l, 3),
    auth: cell(l, 4),
    idle: cell(l, 5),
    node: cell(l, 6),
  }));
}

/**
 * The numbered messages (`<prefix><n>`, id the same) one side received: which
 * arrived and how many times; and the errors that came back to it, by the
 * id of the message they bounce (a bounce is a loss the sender was told of).
 */
export class NumberedInbox {
  readonly counts = new Map<number, number>();
  readonly bounced: string[] = [];
  /** `changed`: shared by inboxes a test waits on together. */
  constructor(
    private readonly prefix: string,
    readonly changed = new Condition(),
  ) {}

  readonly take = (m: ReceivedMessage): void => {
    if (m.error) this.bounced.push(`${m.id ?? '?'}:${m.error}`);
    else if (m.body.startsWith(this.prefix)) {
      const n = Number(m.body.slice(this.prefix.length));
      this.counts.set(n, (this.counts.get(n) ?? 0) + 1);
    }
    this.changed.changed();
  };

  get distinct(): number {
    return this.counts.size;
  }

  missing(total: number): number[] {
    return Array.from({ length: total }, (_, i) => i + 1).filter((n) => !this.counts.has(n));
  }

  /** Deliveries beyond the first of each number. */
  duplicates(): number {
    let d = 0;
    for (const c of this.counts.values()) d += c - 1;
    return d;
  }

  /** Bounces of messages whose id starts with `idPrefix` (this inbox is their sender's). */
  bouncesOf(idPrefix: string): string[] {
    return this.bounced.filter((b) => b.startsWith(idPrefix));
  }

  /** One line for a report or a failure: losses, duplicates and the sender's bounces, nothing hidden. */
  summary(total: number, bounces: readonly string[]): string {
    const missing = this.missing(total);
    const shown = missing.length > 20 ? `${missing.slice(0, 20).join(',')},...` : missing.join(',');
    return `${this.distinct} of ${total} arrived, ${missing.length} lost [${shown}], ${this.duplicates()} duplicates, ${bounces.length} bounced to the sender [${bounces.slice(0, 10).join(' ')}]`;
  }
}
