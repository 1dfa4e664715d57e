/**
 * Nodes with a ClusterService each, on one MemoryNetwork, real FileStorage
 * in temporary folders, and an in-memory local configuration: what the
 * process wiring will give the service, minus TLS (the TLS transport runs the
 * same Transport behaviour suite).
 */
import { mkdtempSync, readdirSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Callbridge } from '../../../src/node/callbridge-registry.js';
import type { NodeConfiguration, TrustSetting } from '../../../src/node/configuration.js';
import type { DnsSettings } from '../../../src/dns/zone.js';
import type { FederationConfig } from '../../../src/s2s/server-streams.js';
import { ClusterService, type ClusterHost, type ClusterHostSettings } from '../../../cluster/member/cluster-service.js';
import { MemoryNetwork } from '../../../cluster/transport/memory-transport.js';
import { Condition } from '../../helpers/condition.js';
import { createLogger } from '../../../src/observability/logger.js';
import { MemoryConfiguration } from './memory-configuration.js';

export const WAIT_MS = 10_000;
export const PEM = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQk\n-----END CERTIFICATE-----\n';
export const TRUST: TrustSetting = { kind: 'pem', file: 'abhiall.cer', pem: PEM };

export interface TestNode {
  readonly n: number;
  readonly id: string;
  readonly host: ClusterHost;
  settings: ClusterHostSettings;
  local: MemoryConfiguration;
  current: NodeConfiguration;
  service: ClusterService;
}

export class ServiceHarness {
  readonly network = new MemoryNetwork();
  readonly condition = new Condition();
  readonly nodes = new Map<number, TestNode>();
  private readonly root = mkdtempSync(join(tmpdir(), 'cluster-service-'));

  /** Node `n`: id `id-n`, name `cbN`, on 10.0.0.N (cluster port 5999, component port 5222), clustering enabled, certs and trust set. */
  async node(n: number, init: { domain?: string | null; callbridges?: Callbridge[]; trust?: TrustSetting; clusterEnabled?: boolean; dns?: DnsSettings; federation?: FederationConfig } = {}): Promise<TestNode> {
    const local = new MemoryConfiguration({
      domain: init.domain === undefined ? 'example.test' : init.domain,
      callbridges: init.callbridges ?? [],
      trust: init.trust ?? TRUST,
      ...(init.dns ? { dns: init.dns } : {}),
      ...(init.federation ? { federation: init.federation } : {}),
    });
    const node = { n, id: `id-${n}`, local, current: local as NodeConfiguration } as TestNode;
    node.settings = { clusterEnabled: init.clusterEnabled ?? true, certs: { key: 'abhiall.key', cert: 'abhiall.cer' }, xmppEnabled: false };
    const host: ClusterHost = {
      nodeId: node.id,
      nodeName: `cb${n}`,
      ...(process.env.CLUSTER_TEST_LOG ? { logger: createLogger({ level: process.env.CLUSTER_TEST_LOG, node: `cb${n}` }) } : {}),
      clusterEndpoint: { host: `10.0.0.${n}`, port: 5999 },
      componentEndpoint: () => `10.0.0.${n}:5222`,
      raftDir: join(this.root, `n${n}`, 'raft'),
      settings: () => node.settings,
      localConfiguration: () => node.local,
      useConfiguration: async (config) => {
        node.current = config;
        this.condition.changed();
      },
      disableClustering: async () => {
        node.settings = { ...node.settings, clusterEnabled: false };
      },
      createTransport: async () => {
        const t = this.network.transport({ id: node.id, name: `cb${n}`, endpoint: { host: `10.0.0.${n}`, port: 5999 } });
        // After the service and its member handled the event: conditions see its effect.
        for (const e of ['frame', 'linkUp', 'linkDown'] as const) t.on(e, () => setImmediate(() => this.condition.changed()));
        await t.start();
        return t;
      },
    };
    (node as { host: ClusterHost }).host = host;
    node.service = await ClusterService.open(host, { member: { tickMs: 5 }, changeTimeoutMs: WAIT_MS, catchUpTimeoutMs: WAIT_MS, joinTimeoutMs: WAIT_MS, dialTimeoutMs: 200 });
    for (const e of ['role', 'membership'] as const) node.service.on(e, () => setImmediate(() => this.condition.changed()));
    this.nodes.set(n, node);
    return node;
  }

  get(n: number): TestNode {
    return this.nodes.get(n)!;
  }

  /** The process stops (its links reset); its folder stays. */
  async crash(n: number): Promise<void> {
    const node = this.nodes.get(n);
    if (!node) return;
    await node.service.close();
    this.nodes.delete(n);
  }

  /** A fresh process on the same folder: identity and raft storage as the last one left them. */
  async restart(n: number, init: Parameters<ServiceHarness['node']>[1] = {}): Promise<TestNode> {
    await this.crash(n);
    return this.node(n, init);
  }

  raftFiles(n: number): string[] {
    const dir = join(this.root, `n${n}`, 'raft');
    return existsSync(dir) ? readdirSync(dir) : [];
  }

  wipeRaft(n: number): void {
    rmSync(join(this.root, `n${n}`, 'raft'), { recursive: true, force: true });
  }

  until(holds: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
    return this.condition.until(holds, timeoutMs, () => `timed out waiting for ${what}`);
  }

  async close(): Promise<void> {
    for (const n of [...this.nodes.keys()]) await this.crash(n);
    rmSync(this.root, { recursive: true, force: true });
  }
}
