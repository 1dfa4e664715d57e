import { mkdir } from 'node:fs/promises';
import { ComponentServer, ListenError, type Binding } from '../component/component-server.js';
import { LocalRouter } from '../router/local-router.js';
import type { Router } from '../router/router.js';
import { StreamError } from '../xmpp/errors.js';
import { FileCallbridgeRegistry, type Callbridge } from './callbridge-registry.js';
import type { ClusterControl, ClusterSessionRow } from './cluster-control.js';
import type { ConfigurationChange, NodeConfiguration, TrustSetting } from './configuration.js';
import { LocalConfiguration } from './local-configuration.js';
import { loadTrustBundle } from '../pki/credentials.js';
import { removeInterruptedWrites } from '../base/atomic-file.js';
import { OperatorError } from '../base/operator-error.js';
import { SerialQueue } from '../base/serial-queue.js';
import { readOwnFiles } from './backup-format.js';
import { dataDirLayout, type DataDirLayout } from './data-dir.js';
import { loadIdentity, type NodeIdentity } from './identity.js';
import { resolveInterfaces } from './interfaces.js';
import { acquireLock, type DataDirLock } from './lock.js';
import { DEFAULT_COMPONENT_PORTS, DEFAULT_LOCK_WAIT_MS, type NodeStatus, type RouterEnvironment, type ServiceState, type XmppNodeOptions } from './xmpp-node-options.js';
import { buildZone, type DnsRecordSetting, type DnsZone, type ZoneMember } from '../dns/zone.js';
import { resolveDnsMember, standaloneZoneMember } from './dns-members.js';
import { normalizeDnsListen, parseDnsEndpoint, type DnsEndpoint } from './dns-settings.js';
import { EMPTY_SETTINGS, loadSettings, saveSettings, type CertificateFiles, type NodeSettings } from './settings.js';
import { NodeFederation } from './federation-view.js';

/**
 * One XMPP node: its settings and call-bridge registry on disk, its
 * component listeners and its router. Every change an operator makes goes
 * through a method here, which validates it whole, persists it, and only
 * then applies it, so nothing is ever half-done. Changes run one at a time
 * (`changes`): each validates against, and builds on, what the previous one
 * left, and resolves only once it is on disk, so an acknowledged change is
 * never undone by one that overlapped it.
 */

export { DEFAULT_COMPONENT_PORTS, DEFAULT_LOCK_WAIT_MS, type NodeStatus, type RouterEnvironment, type ServiceState, type XmppNodeOptions } from './xmpp-node-options.js';

export class XmppNode {
  readonly layout: DataDirLayout;
  readonly router: Router;
  private readonly components: ComponentServer;
  private failure: string | null = null;
  private readonly changes = new SerialQueue();
  /** The standalone configuration in the data directory; kept while the node is a cluster member, for `leave`. */
  readonly local: LocalConfiguration;
  private config: NodeConfiguration;
  private unsubscribe: () => void;
  private clusterControl: ClusterControl | undefined;
  private sessionsOfCluster: (() => ClusterSessionRow[]) | undefined;
  private readonly dnsListeners = new Set<() => void>();
  readonly federation = new NodeFederation(() => this.config, this.changes); // `xmpp federation ...`
  private constructor(
    private readonly options: XmppNodeOptions,
    readonly identity: NodeIdentity,
    private current: NodeSettings,
    private readonly registry: FileCallbridgeRegistry,
    private readonly lock: DataDirLock,
  ) {
    this.layout = dataDirLayout(options.dataDir);
    this.local = new LocalConfiguration(registry, () => this.current, (next) => this.save(next));
    this.config = this.local;
    this.unsubscribe = this.config.onChange((change) => this.configurationChanged(change));
    const env: RouterEnvironment = { nodeId: identity.id, domain: () => this.config.domain() ?? '', log: options.log.child({ module: 'router' }) };
    this.router = options.router ? options.router(env) : new LocalRouter(env);
    this.components = new ComponentServer({
      domain: () => this.config.domain() ?? '',
      secretFor: (name) => this.config.callbridge(name)?.secret,
      router: this.router,
      log: options.log.child({ module: 'component' }),
      options: options.sessionOptions,
      throttle: options.authThrottle,
      preauth: options.preauthLimits,
    });
  }

  /** Opens the data directory (creating it), loads everything, and starts serving if enabled. */
  static async open(options: XmppNodeOptions): Promise<XmppNode> {
    const layout = dataDirLayout(options.dataDir);
    await mkdir(layout.root, { recursive: true, mode: 0o700 });
    await mkdir(layout.certs, { recursive: true, mode: 0o700 });
    const lock = await acquireLock(layout.root, layout.lock, { waitMs: options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS, log: options.log });
    try {
      // The certificate folder too: `pki csr` writes private keys there atomically.
      const leftovers = [...(await removeInterruptedWrites(layout.root)), ...(await removeInterruptedWrites(layout.certs)).map((f) => `certs/${f}`)];
      if (leftovers.length > 0) options.log.info({ module: 'node', event: 'interrupted_writes_removed', files: leftovers }, 'removed temporary files of interrupted writes');
      const identity = await loadIdentity(layout.identity);
      const settings = await loadSettings(layout.settings);
      const registry = await FileCallbridgeRegistry.open(layout.callbridges);
      const node = new XmppNode(options, identity, settings, registry, lock);
      if (options.serve !== false && settings.enabled) await node.startService().catch(() => undefined);
      return node;
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  get name(): string { return this.options.name; }
  get certFolder(): string { return this.layout.certs; }

  /** The node's settings; domain, trust and dns are the configuration's (in a cluster: the replicated ones). */
  settings(): Readonly<NodeSettings> {
    return { ...this.current, domain: this.config.domain(), trust: this.config.trust(), dns: this.config.dns() };
  }

  /** What the node serves with now: its own (standalone) or the cluster's. */
  configuration(): NodeConfiguration {
    return this.config;
  }

  /** Clustering, once the process wiring has attached it (`xmpp cluster ...`). */
  get cluster(): ClusterControl | undefined {
    return this.clusterControl;
  }

  /** `sessions`: every call-bridge session of the cluster, from the cluster router's table. */
  attachCluster(control: ClusterControl, sessions?: () => ClusterSessionRow[]): void {
    this.clusterControl = control;
    this.sessionsOfCluster = sessions;
  }

  /** Every node's call-bridge sessions while a member; this node's alone otherwise. */
  clusterSessions(): ClusterSessionRow[] | undefined {
    return this.clusterControl?.isMember() ? this.sessionsOfCluster?.() : undefined;
  }

  /**
   * Serve with `next` from now on (the cluster's on initialize and join, the
   * local copy on leave). Sessions the new configuration no longer lets in
   * end: all of them with <host-gone/> if the domain changed, else those whose
   * call bridge is gone or has another secret, with <not-authorized/>.
   */
  useConfiguration(next: NodeConfiguration): void {
    const before = this.config;
    if (next === before) return;
    this.unsubscribe();
    this.config = next;
    this.unsubscribe = next.onChange((change) => this.configurationChanged(change));
    this.dnsChanged();
    if (!this.components.listening) return;
    if (before.domain() !== next.domain()) {
      this.components.endAll(new StreamError('host-gone', `this server now serves ${next.domain() ?? 'no domain'}`));
      return;
    }
    for (const old of before.callbridges()) {
      if (next.callbridge(old.name)?.secret !== old.secret) this.components.endCallbridge(old.name, new StreamError('not-authorized', 'this call bridge is not registered in the cluster'));
    }
  }

  /** Letters the node maps to addresses: `a` is its own address unless told otherwise. */
  interfaceLetters(): Record<string, string> {
    return { a: this.options.address, ...this.options.interfaces };
  }

  status(): NodeStatus {
    return { service: this.serviceState(), sessions: this.components.online(), counters: this.router.counters, handshakes: this.components.handshakes };
  }

  serviceState(): ServiceState {
    if (this.components.listening) return { state: 'running', bindings: this.components.bindings };
    if (this.failure !== null && this.current.enabled) return { state: 'failed', reason: this.failure };
    const missing = this.missingForService();
    if (missing) return { state: 'not-configured', missing };
    if (!this.current.enabled) return { state: 'disabled' };
    return { state: 'failed', reason: this.options.serve === false ? 'the node process is not running' : 'not started' };
  }

  // Settings
  /**
   * A running server applies a new domain at once: every session was for an address of the old domain, so each ends with
   * `<host-gone/>` (RFC 6120 §4.9.3.5) and its call bridge reconnects (configurationChanged: a domain set on another member too).
   */
  setDomain(domain: string): Promise<void> {
    return this.changes.run(() => this.config.setDomain(domain));
  }

  /** A running server opens the new interfaces before it closes the old; if one cannot open, nothing changes. */
  setListen(words: string[]): Promise<void> {
    return this.changes.run(async () => {
      if (words.length === 1 && words[0] === 'none') words = [];
      else resolveInterfaces(words, this.interfaceLetters());
      if (this.components.listening) {
        if (words.length === 0) throw new OperatorError('the XMPP server needs an interface while it runs; disable it first (xmpp disable)');
        const before = this.bindings();
        try {
          await this.components.listen(this.bindings(words));
        } catch (err) {
          throw new OperatorError((err as Error).message);
        }
        try {
          await this.save({ ...this.current, listen: [...words] });
        } catch (err) {
          await this.components.listen(before).catch(() => undefined);
          throw err;
        }
        return;
      }
      await this.save({ ...this.current, listen: [...words] });
    });
  }

  setCertificates(files: CertificateFiles | null): Promise<void> {
    return this.changes.run(() => this.save({ ...this.current, certs: files }));
  }

  enable(): Promise<void> {
    return this.changes.run(async () => {
      const missing = this.missingForService();
      if (missing) throw new OperatorError(`cannot enable: ${missing}`);
      if (this.options.serve !== false && !this.components.listening) {
        try {
          await this.startService();
        } catch (err) {
          throw new OperatorError(`cannot enable: ${(err as Error).message}`);
        }
      }
      if (!this.current.enabled) {
        try {
          await this.save({ ...this.current, enabled: true });
        } catch (err) {
          await this.components.stop();
          throw err;
        }
      }
    });
  }

  disable(): Promise<void> {
    return this.changes.run(async () => {
      if (this.current.enabled) await this.save({ ...this.current, enabled: false });
      this.failure = null;
      await this.components.stop();
    });
  }

  /** `xmpp reset`: everything but identity, host key, users and certificate folder; cluster membership too. */
  async reset(): Promise<void> {
    // First the membership (outside the settings queue: leave holds the
    // cluster's queue while it waits on this one to disable clustering).
    await this.clusterControl?.resetMembership();
    return this.changes.run(async () => {
      await this.local.replaceAll(null, [], { kind: 'none' });
      await this.save({ ...EMPTY_SETTINGS, listen: [], dnsListen: [] });
      this.failure = null;
      await this.components.stop();
      this.dnsChanged();
    });
  }

  /**
   * `xmpp cluster enable|disable`. Enabling needs the XMPP server disabled
   * (CMS's order: disable, cluster enable, initialize or join, enable);
   * disabling is refused while this node is one of several members.
   */
  setClusterEnabled(enabled: boolean): Promise<void> {
    return this.changes.run(async () => {
      if (enabled && !this.current.clusterEnabled && this.current.enabled) throw new OperatorError('disable the XMPP server first (xmpp disable)');
      if (!enabled && this.clusterControl?.isMember() && this.clusterControl.memberCount() > 1) {
        throw new OperatorError('this node is a member of a cluster; run xmpp cluster leave first');
      }
      await this.save({ ...this.current, clusterEnabled: enabled });
    });
  }

  /** `xmpp cluster trust <bundle> | none | insecure-lab`: a bundle is a PEM file of certificates in the certificate folder. */
  setClusterTrust(word: string): Promise<void> {
    return this.changes.run(async () => {
      if (word === 'none') {
        // A member's links are checked against the bundle: without one nobody would be trusted.
        if (this.config.kind === 'replicated') throw new OperatorError('a cluster member needs a trust bundle; give another bundle, or leave the cluster first (xmpp cluster leave)');
        return this.config.setTrust({ kind: 'none' });
      }
      if (word === 'insecure-lab') return this.config.setTrust({ kind: 'insecure-lab' });
      const pem = (await loadTrustBundle(this.layout.certs, word)).join('');
      return this.config.setTrust({ kind: 'pem', file: word, pem });
    });
  }

  // Call bridges
  addCallbridge(name: string, secret: string): Promise<void> {
    return this.changes.run(() => this.config.addCallbridge(name, secret));
  }

  /** Its open session, on whichever node, ends with <not-authorized/> (configurationChanged). */
  removeCallbridge(name: string): Promise<Callbridge> {
    return this.changes.run(() => this.config.removeCallbridge(name));
  }

  // DNS (`xmpp dns`): enable, TTL and records are the configuration's (settings().dns); where to listen is this node's own

  /** `xmpp dns listen`: this node's responder addresses (never replicated: each node listens on its own). */
  dnsListen(): DnsEndpoint[] {
    return this.current.dnsListen.map(parseDnsEndpoint);
  }

  setDnsEnabled(enabled: boolean): Promise<void> {
    return this.changes.run(() => this.config.setDnsEnabled(enabled));
  }

  setDnsTtl(seconds: number): Promise<void> {
    return this.changes.run(() => this.config.setDnsTtl(seconds));
  }

  /** `xmpp dns record <peer> ...`: `peer` as `xmpp cluster remove` takes it (standalone: this node's name or address); null clears it. */
  setDnsRecord(peer: string, setting: DnsRecordSetting | null): Promise<void> {
    return this.changes.run(() => this.config.setDnsRecord(resolveDnsMember(this.zoneMembers(), peer, this.clusterControl?.isMember() === true).id, setting));
  }

  /** `xmpp dns listen <address>[:<port>] [...] | none`: replaces the list. */
  setDnsListen(words: string[]): Promise<void> {
    return this.changes.run(async () => {
      const next = normalizeDnsListen(words);
      if (next.join(' ') === this.current.dnsListen.join(' ')) return;
      await this.save({ ...this.current, dnsListen: next });
      this.dnsChanged();
    });
  }

  /** The cluster's members and health view while a member; else this node alone, on its address and first (bound) component port. */
  zoneMembers(): ZoneMember[] {
    if (this.clusterControl?.isMember()) return this.clusterControl.zoneMembers();
    const componentPort = (this.components.listening ? this.components.bindings[0]?.port : undefined) ?? (this.options.componentPorts ?? DEFAULT_COMPONENT_PORTS)[0]!;
    return [standaloneZoneMember({ id: this.identity.id, name: this.options.name, address: this.options.address, componentPort })];
  }

  /** What the responder would serve right now; null without a domain. Built afresh each call: liveness changes all the time. */
  dnsZone(): DnsZone | null {
    const domain = this.config.domain();
    return domain ? buildZone(domain, this.config.dns(), this.zoneMembers()) : null;
  }

  /**
   * After anything the responder is configured by changed: dns settings or domain (made on any member),
   * `xmpp dns listen`, local/replicated switch, reset. Not liveness: build the zone per query (dnsZone).
   */
  onDnsChange(listener: () => void): () => void {
    this.dnsListeners.add(listener);
    return () => this.dnsListeners.delete(listener);
  }

  /** `xmpp-cluster backup`: the node's own files, read between two changes so that they are of one moment. */
  ownFiles(): Promise<Record<string, string>> {
    return this.changes.run(() => readOwnFiles(this.layout));
  }

  /** SIGTERM: no new call bridges; those connected are told <system-shutdown/> (ComponentServer.shutdown); how many stayed past graceMs. */
  shutdownService(graceMs: number): Promise<number> {
    return this.components.shutdown(graceMs);
  }

  /** Waits for the changes already asked for, so that none is cut off half-way. */
  close(): Promise<void> {
    return this.changes.run(async () => {
      await this.components.stop();
      await this.lock.release();
    });
  }

  // Internals
  private missingForService(): string | null {
    const missing: string[] = [];
    if (!this.config.domain()) missing.push('no domain set (xmpp domain <domain>)');
    if (this.current.listen.length === 0) missing.push('no listening interfaces set (xmpp listen <interface>)');
    return missing.length ? missing.join(' and ') : null;
  }

  private bindings(listen: readonly string[] = this.current.listen): Binding[] {
    const hosts = resolveInterfaces(listen, this.interfaceLetters());
    const ports = this.options.componentPorts ?? DEFAULT_COMPONENT_PORTS;
    return hosts.flatMap((host) => ports.map((port) => ({ host, port })));
  }

  private async startService(): Promise<void> {
    try {
      await this.components.listen(this.bindings());
      this.failure = null;
    } catch (err) {
      this.failure = err instanceof ListenError || err instanceof OperatorError ? err.message : String(err);
      this.options.log.error({ module: 'node', event: 'service_start_failed', reason: this.failure }, 'XMPP server could not start');
      throw err;
    }
  }

  private dnsChanged(): void {
    for (const l of [...this.dnsListeners]) l();
  }

  /** What a change made anywhere (here, or on another member) means for this node's sessions and its responder. */
  private configurationChanged(change: ConfigurationChange): void {
    if (change.type === 'dns' || change.type === 'domain') this.dnsChanged();
    if (!this.components.listening) return;
    if (change.type === 'domain') this.components.endAll(new StreamError('host-gone', `this server now serves ${change.domain ?? 'no domain'}`));
    if (change.type === 'callbridge-removed') this.components.endCallbridge(change.name, new StreamError('not-authorized', 'this call bridge was removed from the server'));
  }

  private async save(next: NodeSettings): Promise<void> {
    await saveSettings(this.layout.settings, next);
    this.current = next;
  }
}
