import { SrvCallBridge } from '../../src/bridge/srv-call-bridge.js';
import { COMPONENT_SERVICE } from '../../src/dns/zone.js';
import { dig, startBind, type BindServer } from '../helpers/bind-server.js';
import { BenchComponent } from './bench-component.js';
import { watchTargetLeave } from './dns-health-probe.js';
import { BenchCluster, BenchClusterError, type BenchClusterNode } from './bench-cluster.js';
import { BENCH_DOMAIN, BIND_ADDRESS, benchZone, bindZoneText } from './dns-bench-zone.js';
import { rehomeTrial, type RehomeTrial } from './dns-rehome-trial.js';
import { percentile } from './etcd-failover.js';

/**
 * Re-homing by DNS SRV (issue 14, "Benchmark"), on the benchmark's three
 * node processes (127.0.0.14-16) and a real BIND (127.0.0.21): a call
 * bridge that found the cluster by SRV, its records putting it on a chosen
 * follower first, is killed out from under it (kill -9 of that node) while
 * a call bridge on another node sends to it; see dns-rehome-trial.ts for
 * what one trial measures. Two resolvers, the same trials: a static zone in
 * BIND (rewritten and reloaded for each trial's priorities), and the nodes'
 * own health-aware responders (`xmpp dns record` for the priorities; the
 * bridge asks all three, the dead one included, in node order). Between
 * trials the killed node restarts and is a follower again, and served again
 * by every responder. Called by test/bench/run.ts, which prints the figures.
 */

const SENDER = 'dnsfix';
const STATIC_TTL = 60;

export type ResolverKind = 'static' | 'responder';

export interface RehomeFigures {
  config: string;
  trials: number;
  p50Ms: number;
  p99Ms: number;
  minMs: number;
  maxMs: number;
  samplesMs: number[];
  /** Medians of the phases: kill to the drop seen, kill to the new session. */
  dropP50Ms: number;
  connectedP50Ms: number;
  sent: number;
  lost: number;
  duplicated: number;
  /** Of the duplicates: first delivered by the dying node, again by the new one. */
  redelivered: number;
  reordered: number;
  bounced: number;
  /** `home->new` node names, one per trial. */
  moves: string[];
}

export interface DnsRehomeFigures {
  staticDns: RehomeFigures;
  responder: RehomeFigures;
  dnsPort: number;
  /** Responder trials: ms from the kill until the killed member left each survivor's answers, the leader's and the other follower's. */
  leftAnswers: { leader: number[]; follower: number[] };
}

const movingName = (kind: ResolverKind, trial: number) => `dns${kind[0]}${trial + 1}`;

export async function runDnsRehomeBench(options: { trials: number; secret: string }): Promise<DnsRehomeFigures> {
  const names = [SENDER, ...(['static', 'responder'] as const).flatMap((kind) => Array.from({ length: options.trials }, (_, t) => movingName(kind, t)))];
  const cluster = await BenchCluster.start(names, options.secret);
  let bind: BindServer | undefined;
  let sender: { node: BenchClusterNode; component: BenchComponent } | undefined;
  try {
    const dnsPort = await cluster.enableDns();
    const members = cluster.nodes.map((n) => ({ name: n.name, address: n.address, componentPort: n.componentPort }));
    let serial = 1;
    bind = await startBind({ origin: BENCH_DOMAIN, zoneText: bindZoneText(benchZone(members, { ttl: STATIC_TTL }), serial), address: BIND_ADDRESS });
    const leader = await cluster.settled(30_000);
    sender = { node: leader, component: await BenchComponent.connect(leader.componentPort, { address: `${SENDER}.${BENCH_DOMAIN}`, secret: options.secret }, leader.address) };
    const staticBind = bind;
    const leftAnswers = { leader: [] as number[], follower: [] as number[] };
    const run = async (kind: ResolverKind): Promise<RehomeFigures> => {
      const trials: Array<RehomeTrial & { home: string }> = [];
      for (let t = 0; t < options.trials; t++) {
        const lead = await cluster.settled(30_000);
        // A follower that is not the sender's node: killing it leaves the leader and the sender alone.
        const candidates = cluster.nodes.filter((n) => n !== lead && n !== sender!.node);
        const home = candidates[t % candidates.length]!;
        let servers: string[];
        if (kind === 'static') {
          await staticBind.reload(bindZoneText(benchZone(members, { first: home.name, ttl: STATIC_TTL }), ++serial));
          servers = [staticBind.server];
        } else {
          for (const n of cluster.nodes) await lead.run(`xmpp dns record ${n.name} ${n.name}.${BENCH_DOMAIN} ${n === home ? 0 : 10} 0`);
          await servedEverywhere(cluster, home, 15_000);
          servers = cluster.nodes.map((n) => `${n.address}:${n.dnsPort}`);
        }
        const name = movingName(kind, t);
        const moving = SrvCallBridge.start({ name, secret: options.secret, domain: BENCH_DOMAIN, dnsServers: servers });
        try {
          const first = await moving.waitConnected(20_000);
          if (first.address !== home.address) throw new BenchClusterError(`${name} connected to ${first.address}, not to ${home.address} which its SRV records put first`);
          const survivors = cluster.nodes.filter((n) => n !== home).map((n) => ({ name: n === lead ? 'leader' : 'follower', address: n.address, port: n.dnsPort! }));
          let left: Promise<Record<string, number>> | undefined;
          const onKill = kind === 'responder' ? () => void (left = watchTargetLeave(survivors, BENCH_DOMAIN, `${home.name}.${BENCH_DOMAIN}`)) : undefined;
          const result = await rehomeTrial({ moving, sender: sender!.component, from: `${SENDER}.${BENCH_DOMAIN}`, to: `${name}.${BENCH_DOMAIN}`, home, tails: () => tails(cluster), onKill });
          trials.push({ ...result, home: home.name });
          if (left) {
            const times = await left;
            leftAnswers.leader.push(times.leader!);
            leftAnswers.follower.push(times.follower!);
          }
        } finally {
          await moving.close();
        }
        home.start();
        await cluster.settled(30_000);
        if (kind === 'responder') await servedEverywhere(cluster, home, 30_000);
      }
      return figures(kind === 'static' ? `static zone (BIND, TTL ${STATIC_TTL} s)` : 'our responders (3 nodes, TTL 5 s)', trials, cluster);
    };
    const staticDns = await run('static');
    const responder = await run('responder');
    return { staticDns, responder, dnsPort, leftAnswers };
  } finally {
    sender?.component.close();
    await bind?.stop();
    await cluster.close();
  }
}

/** Until every running node's responder answers SRV with all three members, `home` alone at priority 0. */
async function servedEverywhere(cluster: BenchCluster, home: BenchClusterNode, timeoutMs: number): Promise<void> {
  const expected = cluster.nodes.map((n) => `${n === home ? 0 : 10} 0 ${n.componentPort} ${n.name}.${BENCH_DOMAIN}.`).sort();
  const deadline = Date.now() + timeoutMs;
  for (const n of cluster.nodes) {
    for (;;) {
      const out = await dig(n.address, n.dnsPort!, ['+norecurse', '+short', '+time=1', '+tries=1', 'SRV', `${COMPONENT_SERVICE}.${BENCH_DOMAIN}`]).catch((e: Error) => e.message);
      const seen = out.trim().split('\n').filter(Boolean).sort();
      if (JSON.stringify(seen) === JSON.stringify(expected)) break;
      if (Date.now() > deadline) throw new BenchClusterError(`${n.name}'s responder answers ${JSON.stringify(seen)}, not ${JSON.stringify(expected)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function figures(config: string, trials: ReadonlyArray<RehomeTrial & { home: string }>, cluster: BenchCluster): RehomeFigures {
  const sorted = (f: (t: RehomeTrial) => number) => trials.map(f).sort((a, b) => a - b);
  const ms = sorted((t) => t.ms);
  const sum = (f: (t: RehomeTrial) => number) => trials.reduce((s, t) => s + f(t), 0);
  const nameAt = (address: string) => cluster.nodes.find((n) => n.address === address)?.name ?? address;
  return {
    config,
    trials: trials.length,
    p50Ms: percentile(ms, 50),
    p99Ms: percentile(ms, 99),
    minMs: ms[0] ?? NaN,
    maxMs: ms.at(-1) ?? NaN,
    samplesMs: trials.map((t) => t.ms),
    dropP50Ms: percentile(sorted((t) => t.dropMs), 50),
    connectedP50Ms: percentile(sorted((t) => t.connectedMs), 50),
    sent: sum((t) => t.sent),
    lost: sum((t) => t.lost),
    duplicated: sum((t) => t.duplicated),
    redelivered: sum((t) => t.redelivered),
    reordered: sum((t) => t.reordered),
    bounced: sum((t) => t.bounced),
    moves: trials.map((t) => `${t.home}->${nameAt(t.landed)}`),
  };
}

function tails(cluster: BenchCluster): string {
  return cluster.nodes.map((n) => `--- ${n.name} (${n.running ? 'running' : 'down'})\n${n.logTail()}`).join('\n');
}
