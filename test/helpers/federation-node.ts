import type { Element } from '@xmpp/xml';
import { copyFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { CallBridge, type ReceivedMessage } from '../../src/bridge/call-bridge.js';
import { createResolver } from '../../src/dns/srv-lookup.js';
import type { Logger } from '../../src/observability/logger.js';
import { startNode, type RunningNode, type StartNodeOptions } from '../../src/process/node-process.js';
import { ensureLoopbackAddress } from './bind-server.js';
import { Condition } from './condition.js';
import { startEjabberd, type EjabberdServer, type EjabberdS2s } from './ejabberd-server.js';
import { startFederationDns, type FederationDns } from './federation-dns.js';
import { issueServerCertificate, makeFederationCa, type FederationCa } from './federation-pki.js';
import { ejabberdStreamFacts, prosodyStreamFacts, type StreamFacts } from './peer-stream-log.js';
import { startProsody, type ProsodyS2s, type ProsodyServer } from './prosody-server.js';
import { ScriptTerminal } from './script-terminal.js';
import { tempDir } from './test-node.js';

/**
 * A whole node federating with real peers, set up the way an operator does:
 * MMP commands typed into the node's interpreter. Our node (example.test,
 * call bridge cb1) runs in-process (startNode); the peers are a real Prosody
 * (other.test, component cb) and a real ejabberd (third.test, component cb),
 * each with a call bridge of its own (xmpp.js) on its component port. Every
 * name resolves through one real BIND on port 53 of the test file's own
 * address (ejabberd's glibc half queries no other port: ejabberd-server.ts),
 * which Prosody's libunbound and our resolver use too.
 */

export const OURS = 'example.test';
export const OUR_BRIDGE = `cb1.${OURS}`;
export const PROSODY = 'other.test';
export const EJABBERD = 'third.test';
const PEER_SECRET = 'component-secret-federation-node';

/**
 * How the two sides authenticate:
 * - `dialback`: TLS, each side's certificate from a CA the other does not trust (XEP-0220 over TLS);
 * - `sasl`: TLS, both certificates from one CA both trust (XEP-0178 SASL EXTERNAL both ways);
 * - `plain`: `xmpp federation security none`, a peer that allows streams without TLS (dialback).
 */
export type Mode = 'dialback' | 'sasl' | 'plain';

/** One test file's loopback addresses (each file its own: they listen on fixed ports 53 and 5269). */
export interface RigAddresses {
  dns: string;
  ours: string;
  prosody: string;
  ejabberd: string;
}

export interface Rig {
  readonly addresses: RigAddresses;
  readonly dir: string;
  /** Ours, and the peers' in `sasl` mode. */
  readonly ca: FederationCa;
  /** The peers' in `dialback` mode: neither side trusts the other's CA. */
  readonly peerCa: FederationCa;
  readonly dns: FederationDns;
  stop(): Promise<void>;
}

export async function startRig(addresses: RigAddresses): Promise<Rig> {
  await Promise.all(Object.values(addresses).map(ensureLoopbackAddress));
  const dir = await tempDir('federation-node-');
  const ca = await makeFederationCa(dir);
  const peerCa = await makeFederationCa(await tempDir('federation-node-peer-ca-'), 'Peer CA');
  const at = (domain: string, address: string) => [
    { domain, address },
    { domain: `cb.${domain}`, address },
  ];
  const dns = await startFederationDns({
    address: addresses.dns,
    port: 53,
    entries: [{ domain: OURS, address: addresses.ours }, { domain: OUR_BRIDGE, address: addresses.ours }, ...at(PROSODY, addresses.prosody), ...at(EJABBERD, addresses.ejabberd)],
  });
  return {
    addresses,
    dir,
    ca,
    peerCa,
    dns,
    stop: async () => {
      await dns.stop();
      await rm(dir, { recursive: true, force: true });
      await rm(peerCa.dir, { recursive: true, force: true });
    },
  };
}

export type Cleanups = Array<() => Promise<void> | void>;

/** The node's pino log, line by line, so a test can wait for an event instead of sleeping. */
export class NodeLog {
  readonly lines: Array<Record<string, unknown>> = [];
  readonly raw: string[] = [];
  readonly logger: Logger;
  private readonly changed = new Condition();

  constructor() {
    const sink = new Writable({
      write: (chunk, _enc, done) => {
        const text = String(chunk);
        this.raw.push(text);
        for (const line of text.split('\n').filter(Boolean)) this.lines.push(JSON.parse(line) as Record<string, unknown>);
        this.changed.changed();
        done();
      },
    });
    this.logger = pino({ level: 'debug' }, sink);
  }

  text(): string {
    return this.raw.join('');
  }

  /** Federation events (module XMPPFederation) named `event` whose fields include `where`. */
  events(event: string, where: Record<string, unknown> = {}): Array<Record<string, unknown>> {
    return this.lines.filter((l) => l.module === 'XMPPFederation' && l.event === event && Object.entries(where).every(([k, v]) => l[k] === v));
  }

  async waitFor(event: string, where: Record<string, unknown> = {}, timeoutMs = 20_000, count = 1): Promise<Array<Record<string, unknown>>> {
    await this.changed.until(
      () => this.events(event, where).length >= count,
      timeoutMs,
      () => `no ${count} ${event} event(s) matching ${JSON.stringify(where)} within ${timeoutMs} ms; federation events: ${JSON.stringify(this.lines.filter((l) => l.event).map((l) => [l.event, l.domain, l.direction, l.reason]))}`,
    );
    return this.events(event, where);
  }
}

/** Every message a call bridge received, to wait on and to count. */
export class Mailbox {
  readonly messages: ReceivedMessage[] = [];
  /** Every stanza as received, for what ReceivedMessage leaves out (an error's type). */
  readonly stanzas: Element[] = [];
  private readonly changed = new Condition();

  constructor(readonly bridge: CallBridge) {
    bridge.on('stanza', (el: Element) => this.stanzas.push(el));
    bridge.on('message', (m: ReceivedMessage) => {
      this.messages.push(m);
      this.changed.changed();
    });
  }

  /** The message stanza with id `id`, once received. */
  async stanza(id: string, timeoutMs = 20_000): Promise<Element> {
    await this.next(id, timeoutMs);
    return this.stanzas.find((s) => s.name === 'message' && s.attrs.id === id)!;
  }

  async waitFor(holds: (messages: readonly ReceivedMessage[]) => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    await this.changed.until(() => holds(this.messages), timeoutMs, () => `${this.bridge.address}: no ${what} within ${timeoutMs} ms; received ${JSON.stringify(this.messages)}`);
  }

  /** The first message with id `id` (a delivery, or its bounce: `error` set). */
  async next(id: string, timeoutMs = 20_000): Promise<ReceivedMessage> {
    await this.waitFor((ms) => ms.some((m) => m.id === id), `message ${id}`, timeoutMs);
    return this.messages.find((m) => m.id === id)!;
  }
}

export interface OurNode {
  readonly running: RunningNode;
  readonly log: NodeLog;
  readonly bridge: CallBridge;
  readonly inbox: Mailbox;
  /** Runs an MMP command as the admin; a non-zero exit throws with its output. */
  mmp(line: string): Promise<string>;
}

export interface OurNodeOptions {
  mode: Mode;
  /** MMP lines run after `xmpp federation enable` (allow lists, routes); by default both peers are allowed. */
  federation?: string[];
  service?: NonNullable<StartNodeOptions['federation']>['service'];
}

export async function runMmp(running: RunningNode, line: string): Promise<string> {
  const result = await running.interpreter.run(line, new ScriptTerminal(), 'exec', 'admin');
  if (result.exitCode !== 0) throw new Error(`${line}: ${result.output}`);
  return result.output;
}

/** Our node, configured by MMP commands, with call bridge cb1 connected. */
export async function startOurNode(rig: Rig, options: OurNodeOptions, cleanups: Cleanups): Promise<OurNode> {
  const log = new NodeLog();
  const dataDir = await tempDir('federation-node-data-');
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  const running = await startNode({
    dataDir,
    name: 'cms1',
    address: rig.addresses.ours,
    componentPorts: [0, 0],
    log: log.logger,
    ssh: null,
    federation: {
      lookup: { resolver: createResolver({ servers: [`${rig.dns.address}:${rig.dns.port}`] }) },
      ...(options.service ? { service: options.service } : {}),
    },
  });
  cleanups.push(() => running.close());
  const mmp = (line: string) => runMmp(running, line);
  await mmp(`xmpp domain ${OURS}`);
  await mmp('xmpp listen a');
  if (options.mode !== 'plain') {
    const cert = await issueServerCertificate(rig.ca, [OURS, OUR_BRIDGE]);
    await copyFile(cert.keyFile, join(running.node.certFolder, 'ours.key'));
    await copyFile(cert.certFile, join(running.node.certFolder, 'ours.crt'));
    // The bundle is the CA peers' certificates must chain to: in dialback mode the peers' CA is another one.
    await copyFile(rig.ca.certFile, join(running.node.certFolder, 'ca.crt'));
    await mmp('xmpp certs ours.key ours.crt ca.crt');
  }
  const added = await mmp('xmpp callbridge add cb1');
  const secret = /Secret: (\S+)/.exec(added)![1]!;
  await mmp('xmpp enable');
  await mmp('xmpp federation enable');
  if (options.mode === 'plain') await mmp('xmpp federation security none');
  for (const line of options.federation ?? [`xmpp federation allow add *.${PROSODY}`, `xmpp federation allow add *.${EJABBERD}`]) await mmp(line);
  // The wiring applies a change on its next tick; apply now so the listener is up before a peer looks for it.
  await running.federation.apply();
  if (running.federation.bindings().length === 0) throw new Error(`the federation listener is not up: ${log.text().slice(-2000)}`);
  const state = running.node.serviceState();
  if (state.state !== 'running') throw new Error(`the node is not running: ${JSON.stringify(state)}`);
  const bridge = await CallBridge.connect({ name: 'cb1', secret, domain: OURS, host: rig.addresses.ours, port: state.bindings[0]!.port });
  cleanups.push(() => bridge.close());
  return { running, log, bridge, inbox: new Mailbox(bridge), mmp };
}

export interface Peer {
  readonly kind: 'prosody' | 'ejabberd';
  readonly domain: string;
  /** The component, cb.<domain>: the peer federates under this name. Its bridge answers our pings (the peer server forwards them to it). */
  readonly component: string;
  readonly server: ProsodyServer | EjabberdServer;
  readonly bridge: CallBridge;
  readonly inbox: Mailbox;
  log(): string;
  /** What the peer's own log says about its two streams with our call bridge, once both are up. */
  facts(): Promise<StreamFacts>;
}

async function peerCertificate(rig: Rig, mode: Mode, domain: string) {
  const ca = mode === 'sasl' ? rig.ca : rig.peerCa;
  return { ca, cert: await issueServerCertificate(ca, [domain, `cb.${domain}`]) };
}

export async function startProsodyPeer(rig: Rig, mode: Mode, cleanups: Cleanups): Promise<Peer> {
  let s2s: ProsodyS2s;
  if (mode === 'plain') s2s = { requireEncryption: false, secureAuth: false, dialback: true };
  else {
    const { ca, cert } = await peerCertificate(rig, mode, PROSODY);
    const tls = { caFile: ca.certFile, certFile: cert.certFile, keyFile: cert.keyFile };
    s2s = mode === 'sasl' ? { requireEncryption: true, secureAuth: true, dialback: false, tls } : { requireEncryption: true, secureAuth: false, dialback: true, tls };
  }
  const server = await startProsody({ domain: PROSODY, address: rig.addresses.prosody, components: [{ name: 'cb', secret: PEER_SECRET }], s2s, dns: rig.dns });
  const component = `cb.${PROSODY}`;
  return peerWithBridge('prosody', PROSODY, server, cleanups, async () => {
    await server.waitForLog(new RegExp(`Outgoing s2s connection ${esc(component)}->${esc(OUR_BRIDGE)} complete`));
    await server.waitForLog(new RegExp(`Incoming s2s connection ${esc(OUR_BRIDGE)}->${esc(component)} complete`));
    return prosodyStreamFacts(server.log(), component, OUR_BRIDGE);
  });
}

/** The peer's component `cb`, connected as a call bridge that answers iqs (pings reach it), and the Peer record around it. */
async function peerWithBridge(kind: Peer['kind'], domain: string, server: Peer['server'], cleanups: Cleanups, facts: Peer['facts']): Promise<Peer> {
  cleanups.push(() => server.stop());
  const bridge = await CallBridge.connect({ name: 'cb', secret: PEER_SECRET, domain, host: server.address, port: server.componentPort, answerIq: true });
  cleanups.push(() => bridge.close());
  return { kind, domain, component: `cb.${domain}`, server, bridge, inbox: new Mailbox(bridge), log: () => server.log(), facts };
}

export async function startEjabberdPeer(rig: Rig, mode: Mode, cleanups: Cleanups): Promise<Peer> {
  let s2s: EjabberdS2s;
  if (mode === 'plain') s2s = { starttls: false, dialback: true };
  else {
    const { ca, cert } = await peerCertificate(rig, mode, EJABBERD);
    s2s = { starttls: 'required', dialback: mode !== 'sasl', tls: { caFile: ca.certFile, pemFile: cert.pemFile } };
  }
  const server = await startEjabberd({ domain: EJABBERD, address: rig.addresses.ejabberd, components: [{ name: 'cb', secret: PEER_SECRET }], s2s, dns: { address: rig.dns.address, port: rig.dns.port } });
  const component = `cb.${EJABBERD}`;
  return peerWithBridge('ejabberd', EJABBERD, server, cleanups, async () => {
    // ejabberd writes its log file a little late: wait for both of its lines about us.
    await server.waitForLog(new RegExp(`Accepted inbound s2s \\S+ authentication ${esc(OUR_BRIDGE)} -> ${esc(component)}`));
    await server.waitForLog(new RegExp(`Accepted outbound s2s \\S+ authentication ${esc(component)} -> ${esc(OUR_BRIDGE)}`));
    return ejabberdStreamFacts(server.log(), component, OUR_BRIDGE);
  });
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A message from our call bridge to the peer's and one back: both directions of s2s come up. */
export async function exchange(ours: OurNode, peer: Peer, tag: string): Promise<void> {
  await ours.bridge.sendMessage(peer.component, `hello ${peer.domain}`, `${tag}-out`);
  const there = await peer.inbox.next(`${tag}-out`);
  if (there.from !== OUR_BRIDGE || there.error) throw new Error(`${peer.component} got ${JSON.stringify(there)}`);
  await peer.bridge.sendMessage(OUR_BRIDGE, `hello ${OURS}`, `${tag}-in`);
  const back = await ours.inbox.next(`${tag}-in`);
  if (back.from !== peer.component || back.error) throw new Error(`${OUR_BRIDGE} got ${JSON.stringify(back)}`);
}

const COLUMNS = ['Domain', 'Peer address', 'Direction', 'Security', 'Auth', 'Idle', 'Node'];

/** `xmpp federation connections` as rows of cells [Domain, Peer address, Direction, Security, Auth, Idle, Node], cut where the header's columns start. */
export async function connectionRows(ours: OurNode): Promise<string[][]> {
  const out = await ours.mmp('xmpp federation connections');
  const [header, ...rows] = out.split('\n').filter((l) => l.trim() && !l.startsWith('Warning:'));
  if (header === 'No federation connections.') return [];
  const starts = COLUMNS.map((c) => header!.indexOf(c));
  if (starts.some((s, i) => s < 0 || (i > 0 && s <= starts[i - 1]!))) throw new Error(`not the connections header: ${header}`);
  return rows.map((r) => starts.map((s, i) => r.slice(s, starts[i + 1]).trim()));
}

/** Leaves the peer's and our logs' tails in a failure message: they say why a stream did not come up. */
export async function withLogs<T>(ours: OurNode, peers: Peer[], body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    const e = err as Error;
    for (const p of peers) e.message += `\n--- ${p.domain} log (tail) ---\n${p.log().slice(-6000)}`;
    e.message += `\n--- our log (tail) ---\n${ours.log.text().slice(-6000)}`;
    throw e;
  }
}
