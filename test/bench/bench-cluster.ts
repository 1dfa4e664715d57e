import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { closeSync, copyFileSync, openSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runOnStartingNode } from '../../src/process/demo-nodes.js';
import { dataDirLayout } from '../../src/node/data-dir.js';
import { dig } from '../helpers/bind-server.js';

/**
 * The benchmark's three-node cluster: `xmpp-cluster node` processes on
 * 127.0.0.14, .15 and .16 (the address range the test helpers keep for the
 * benchmark), built by the operator's commands sent to each node's control
 * socket (what `xmpp-cluster mmp --data-dir D '<command>'` does), ports in
 * 30000-39999 so that nothing collides with the reference ports. Every child
 * is killed when this process exits, whatever failed.
 */

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
export const CLUSTER_ADDRESSES = ['127.0.0.14', '127.0.0.15', '127.0.0.16'];
const DOMAIN = 'example.test';
const CERT = 'bench';

export class BenchClusterError extends Error {
  override name = 'BenchClusterError';
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

export interface NodeStatus {
  state: string;
  /** The leader's address (127.0.0.N), when this node knows one. */
  leader: string | undefined;
}

export class BenchClusterNode {
  child: ChildProcess | undefined;
  /** Where its DNS responder listens (on `address`), once BenchCluster#enableDns ran. */
  dnsPort: number | undefined;

  constructor(
    readonly name: string,
    readonly address: string,
    readonly dataDir: string,
    readonly componentPort: number,
    readonly clusterPort: number,
  ) {}

  get logFile(): string {
    return `${this.dataDir}.log`;
  }

  get pid(): number {
    return this.child!.pid!;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    if (this.running) throw new BenchClusterError(`${this.name} is already running`);
    const log = openSync(this.logFile, 'a', 0o600);
    try {
      const args = ['node', '--data-dir', this.dataDir, '--name', this.name, '--address', this.address, '--component-ports', `${this.componentPort},${this.componentPort + 1}`, '--cluster-port', String(this.clusterPort), '--no-ssh', '--no-metrics'];
      // BENCH_CPU_PROF=<dir>: a V8 CPU profile of every node process, written when it stops.
      const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF, '--cpu-prof-name', `${this.name}-${Date.now()}.cpuprofile`] : [];
      // BENCH_NODE_FLAGS: more flags for node itself, say `--perf-basic-prof` for `perf record`, or `--trace-gc`.
      const flags = process.env.BENCH_NODE_FLAGS ? process.env.BENCH_NODE_FLAGS.split(' ').filter(Boolean) : [];
      this.child = spawn(process.execPath, [...prof, ...flags, CLI, ...args], { stdio: ['ignore', log, log] });
      live.add(this.child);
    } finally {
      closeSync(log);
    }
  }

  /** `kill -9`; resolves once the process is gone. */
  kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return Promise.resolve();
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    return gone;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  }

  /** One MMP command through the control socket; waits (bounded) for a node that is still starting. */
  run(line: string, answers: string[] = []): Promise<string> {
    return runOnStartingNode(this.dataDir, line, { answers, name: this.name, exited: () => (this.running ? undefined : `${this.name} exited; log tail:\n${this.logTail()}`) });
  }

  async status(): Promise<NodeStatus> {
    const text = await this.run('xmpp cluster status');
    const state = /^State: (\S+)/m.exec(text)?.[1] ?? 'unknown';
    const leader = /^(\d+\.\d+\.\d+\.\d+):\d+ \(Leader\)$/m.exec(text)?.[1];
    return { state, leader };
  }

  /** Waits (bounded) until the node's responder answers the domain's SOA over UDP. */
  async answersDns(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const soa = await dig(this.address, this.dnsPort!, ['+norecurse', '+short', '+time=1', '+tries=1', 'SOA', DOMAIN]).catch((e: Error) => e.message);
      if (/^\S+\.\s+\S+\.\s+\d+/m.test(soa)) return;
      if (Date.now() > deadline) throw new BenchClusterError(`${this.name}'s DNS responder at ${this.address}:${this.dnsPort} does not answer: ${soa}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  logTail(lines = 15): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }
}

export class BenchCluster {
  private constructor(
    readonly root: string,
    readonly nodes: BenchClusterNode[],
  ) {}

  /**
   * Builds the cluster as the demo does: certificate, domain and call bridges
   * on the first node, which initializes; the same settings on the others,
   * which join. `bridges` are registered with `secret` on every node.
   */
  static async start(bridges: string[], secret: string, addresses = CLUSTER_ADDRESSES): Promise<BenchCluster> {
    const root = await mkdtemp(join(tmpdir(), 'xmpp-bench-cluster-'));
    const base = 30_000 + 3 * Math.floor(Math.random() * 3_300);
    const nodes = addresses.map((a, i) => new BenchClusterNode(`cb${i + 1}`, a, join(root, `cb${i + 1}`), base, base + 2));
    const cluster = new BenchCluster(root, nodes);
    try {
      for (const n of nodes) n.start();
      const [first, ...others] = nodes as [BenchClusterNode, ...BenchClusterNode[]];
      const sans = [...addresses, ...nodes.map((n) => `${n.name}.${DOMAIN}`)].join(',');
      await first.run(`pki selfsigned ${CERT} CN:${DOMAIN} subjectAltName:${sans}`);
      // The operator's SFTP upload of the same key and certificate to every node.
      for (const n of others) {
        await n.run('pki list'); // the node has created its data directory
        for (const f of [`${CERT}.key`, `${CERT}.crt`]) copyFileSync(join(dataDirLayout(first.dataDir).certs, f), join(dataDirLayout(n.dataDir).certs, f));
      }
      const settings = [`xmpp domain ${DOMAIN}`, 'xmpp listen a', `xmpp certs ${CERT}.key ${CERT}.crt`, `xmpp cluster trust ${CERT}.crt`];
      for (const n of nodes) {
        for (const line of settings) await n.run(line);
        for (const b of bridges) await n.run(`xmpp callbridge add-secret ${b}`, [secret]);
      }
      for (const line of ['xmpp disable', 'xmpp cluster enable', 'xmpp cluster initialize', 'xmpp enable']) await first.run(line);
      for (const n of others) {
        for (const line of ['xmpp disable', 'xmpp cluster enable', 'xmpp enable', `xmpp cluster join ${first.address}:${first.clusterPort}`]) await n.run(line);
      }
      await cluster.settled(30_000);
      return cluster;
    } catch (err) {
      await cluster.close();
      throw err;
    }
  }

  node(address: string): BenchClusterNode {
    const n = this.nodes.find((x) => x.address === address);
    if (!n) throw new BenchClusterError(`no node at ${address}`);
    return n;
  }

  /** Waits until every running node is LEADER or FOLLOWER and all name the same leader; returns it. */
  async settled(timeoutMs: number): Promise<BenchClusterNode> {
    const deadline = Date.now() + timeoutMs;
    let last: NodeStatus[] = [];
    for (;;) {
      const running = this.nodes.filter((n) => n.running);
      last = await Promise.all(running.map((n) => n.status().catch(() => ({ state: 'unreachable', leader: undefined }))));
      const leader = last[0]?.leader;
      const agreed = leader && last.every((s) => s.leader === leader && (s.state === 'LEADER' || s.state === 'FOLLOWER'));
      if (agreed && running.length === this.nodes.length) return this.node(leader);
      if (Date.now() > deadline) throw new BenchClusterError(`cluster not settled after ${timeoutMs} ms: ${JSON.stringify(last)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Every node's health-aware DNS responder on its own address at `port`
   * (`xmpp dns listen`, per node), then `xmpp dns enable` (cluster-wide);
   * resolves once every node answers the zone's SOA there. Both settings
   * are kept in the data directories, so a restarted node resumes it.
   * Without `port`, one free for UDP and TCP on every node's address.
   */
  async enableDns(port?: number, timeoutMs = 15_000): Promise<number> {
    port ??= await freeDnsPort(this.nodes.map((n) => n.address));
    for (const n of this.nodes) await n.run(`xmpp dns listen ${n.address}:${port}`);
    await this.nodes[0]!.run('xmpp dns enable');
    for (const n of this.nodes) {
      n.dnsPort = port;
      await n.answersDns(timeoutMs);
    }
    return port;
  }

  pids(): number[] {
    return this.nodes.filter((n) => n.running).map((n) => n.pid);
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
    if (!process.env.BENCH_KEEP_LOGS) rmSync(this.root, { recursive: true, force: true });
  }
}

/** A port in the benchmark's 30000-39999 that UDP and TCP can both bind on every address right now. */
async function freeDnsPort(addresses: string[]): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 30_000 + Math.floor(Math.random() * 10_000);
    const free = await Promise.all(addresses.map((a) => portFree(a, port)));
    if (free.every(Boolean)) return port;
  }
  throw new BenchClusterError(`no port free for UDP and TCP on ${addresses.join(', ')}`);
}

async function portFree(address: string, port: number): Promise<boolean> {
  const tcp = await new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: address, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
  if (!tcp) return false;
  return new Promise<boolean>((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => resolve(false));
    socket.bind({ address, port, exclusive: true }, () => socket.close(() => resolve(true)));
  });
}
