/**
 * XmppNodes that cluster over a MemoryNetwork instead of TLS: the same
 * ClusterHost wiring as src/process/clustering.ts (the node's identity,
 * settings, local configuration and data directory, real FileStorage), so
 * the MMP commands can be driven against cluster members in one process.
 * The nodes never open a port (serve: false); their addresses only name
 * them in the memory network and in their component endpoints.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ClusterService } from '../../cluster/member/cluster-service.js';
import type { ClusterHost } from '../../cluster/member/cluster-host.js';
import { MemoryNetwork } from '../../cluster/transport/memory-transport.js';
import { TransportSlot } from '../../cluster/transport/transport-slot.js';
import type { Interpreter } from '../../src/mmp/interpreter.js';
import { nodeInterpreter } from '../../src/mmp/node-commands.js';
import { XmppNode } from '../../src/node/xmpp-node.js';
import { ScriptTerminal } from './script-terminal.js';
import { LogCapture, tempDir } from './test-node.js';

export interface MemoryClusterNode {
  readonly node: XmppNode;
  readonly service: ClusterService;
  readonly mmp: Interpreter;
  /** Whichever cluster transport the node runs now (as src/process's ClusterRouting binds one), for layers that add their own frames. */
  readonly transport: TransportSlot;
  /** One MMP command in exec mode: its output, `Error: ...` lines included. */
  run(line: string): Promise<string>;
}

export class MemoryCluster {
  readonly network = new MemoryNetwork();
  private readonly nodes: MemoryClusterNode[] = [];
  private readonly dirs: string[] = [];

  /** Node `name` on `address` (cluster port 5999, component port 5222), with clustering enabled, certificate names and lab trust set. */
  async node(name: string, address: string): Promise<MemoryClusterNode> {
    const dataDir = await tempDir();
    this.dirs.push(dataDir);
    const node = await XmppNode.open({ dataDir, name, address, log: new LogCapture().logger, serve: false });
    const slot = new TransportSlot({ id: node.identity.id, name, endpoint: { host: address, port: 5999 } });
    const host: ClusterHost = {
      nodeId: node.identity.id,
      nodeName: name,
      clusterEndpoint: { host: address, port: 5999 },
      componentEndpoint: () => `${address}:5222`,
      raftDir: join(dataDir, 'raft'),
      settings: () => {
        const s = node.settings();
        return { clusterEnabled: s.clusterEnabled, certs: s.certs, xmppEnabled: s.enabled };
      },
      localConfiguration: () => node.local,
      useConfiguration: async (config) => node.useConfiguration(config),
      disableClustering: () => node.setClusterEnabled(false),
      createTransport: async () => {
        const t = this.network.transport({ id: node.identity.id, name, endpoint: { host: address, port: 5999 } });
        slot.bind(t);
        await t.start();
        return t;
      },
    };
    const service = await ClusterService.open(host, { member: { tickMs: 5 }, dialTimeoutMs: 200 });
    node.attachCluster(service);
    const mmp = nodeInterpreter(node);
    const run = async (line: string) => (await mmp.run(line, new ScriptTerminal([]), 'exec', 'admin')).output;
    // Certificate names only: the memory transport checks none.
    await node.setCertificates({ key: 'abhiall.key', cert: 'abhiall.cer', bundle: null });
    for (const line of ['xmpp cluster trust insecure-lab', 'xmpp cluster enable']) {
      const out = await run(line);
      if (out !== '') throw new Error(`${name}: ${line}: ${out}`);
    }
    const member = { node, service, mmp, run, transport: slot };
    this.nodes.push(member);
    return member;
  }

  async close(): Promise<void> {
    for (const n of this.nodes) {
      await n.service.close();
      await n.node.close();
    }
    for (const d of this.dirs) await rm(d, { recursive: true, force: true });
  }
}

/**
 * Resolves once `holds` is true, checked every few milliseconds up to
 * `timeoutMs`: for what has no event of its own (the failure detector's
 * view), and for entries applied on another member.
 */
export async function eventually(holds: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!holds()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
