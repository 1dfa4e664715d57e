import { BenchComponent } from './bench-component.js';
import { BenchCluster } from './bench-cluster.js';
import { measurePair, measureWindowed, type ComponentBenchOptions, type ServerFigures } from './component-bench.js';
import { startOurNode } from './servers.js';

/**
 * The cluster path (issue 13, "Benchmark"): call bridge A on one follower,
 * B on the other, so every stanza goes A -> follower -> leader -> follower
 * -> B; windowed and ping-pong with the component benchmark's own workloads
 * and measurement, beside one node routing alone, measured in the same run.
 * Called by test/bench/run.ts, which prints the figures.
 *
 * The windowed runs alternate, one node then the cluster, `rounds` times,
 * and the ratio is the median of each round's: on a shared 2-core VM one node
 * alone was measured anywhere from 176k to 301k stanzas/s within minutes, so
 * one run of each compares two different machines as often as two servers.
 * The rows show the round whose ratio is the median.
 */

export const CLUSTER_BRIDGES = ['cba', 'cbb'];
const DOMAIN = 'example.test';

export interface ClusterPathFigures {
  single: ServerFigures;
  cluster: ServerFigures;
  /** cluster windowed/s divided by single-node windowed/s: the median round's. */
  windowedRatio: number;
  /** Every round's ratio, in the order measured. */
  roundRatios: number[];
  /** Added median ping-pong latency, µs. */
  addedPingPongP50us: number;
  /** The cluster's processes in the order of cpuUsPerStanzaByProcess, with their roles. */
  processes: string[];
  windowedMet: boolean;
  latencyMet: boolean;
}

export async function runClusterPathBench(o: ComponentBenchOptions & { rounds: number }): Promise<ClusterPathFigures> {
  const server = await startOurNode(o.secret, CLUSTER_BRIDGES);
  const from = `${CLUSTER_BRIDGES[0]}.${DOMAIN}`;
  const to = `${CLUSTER_BRIDGES[1]}.${DOMAIN}`;
  const cluster = await BenchCluster.start(CLUSTER_BRIDGES, o.secret).catch(async (err: unknown) => {
    await server.stop();
    throw err;
  });
  const opened: BenchComponent[] = [];
  const connect = async (port: number, address: string, host?: string) => {
    const c = await BenchComponent.connect(port, { address, secret: o.secret }, host);
    opened.push(c);
    return c;
  };
  try {
    const alone = { a: await connect(server.port, from), b: await connect(server.port, to), from, to };
    const leader = await cluster.settled(30_000);
    const [fa, fb] = cluster.nodes.filter((n) => n !== leader) as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
    const processes = cluster.nodes.map((n) => `${n.name} (${n === leader ? 'leader' : n === fa ? 'A' : 'B'})`);
    const path = { a: await connect(fa.componentPort, from, fa.address), b: await connect(fb.componentPort, to, fb.address), from, to };
    const single: ServerFigures = { server: 'one node (alone)', ...(await measurePair(alone, [server.pid], o)) };
    const figures: ServerFigures = { server: `cluster (A on ${fa.name}, B on ${fb.name}, leader ${leader.name})`, ...(await measurePair(path, cluster.pids(), o)) };
    const rounds = [{ single: single.windowed, cluster: figures.windowed }];
    for (let r = 1; r < o.rounds; r++) {
      const s = await measureWindowed(alone, [server.pid], o);
      rounds.push({ single: s, cluster: await measureWindowed(path, cluster.pids(), o) });
    }
    const roundRatios = rounds.map((r) => r.cluster.perSecond / r.single.perSecond);
    const median = [...rounds.keys()].sort((x, y) => roundRatios[x]! - roundRatios[y]!)[Math.floor(rounds.length / 2)]!;
    single.windowed = rounds[median]!.single;
    figures.windowed = rounds[median]!.cluster;
    const windowedRatio = roundRatios[median]!;
    const addedPingPongP50us = figures.pingPong.p50us - single.pingPong.p50us;
    return { single, cluster: figures, processes, windowedRatio, roundRatios, addedPingPongP50us, windowedMet: windowedRatio >= 0.5, latencyMet: addedPingPongP50us < 1000 };
  } finally {
    for (const c of opened) c.close();
    await cluster.close();
    await server.stop();
  }
}
