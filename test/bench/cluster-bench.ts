import { BenchComponent } from './bench-component.js';
import { BenchCluster } from './bench-cluster.js';
import { benchServer, measurePair, type ComponentBenchOptions, type ServerFigures } from './component-bench.js';
import { startOurNode } from './servers.js';

/**
 * The cluster path (issue 13, "Benchmark"): call bridge A on one follower,
 * B on the other, so every stanza goes A -> follower -> leader -> follower
 * -> B; windowed and ping-pong with the component benchmark's own workloads
 * and measurement, beside one node routing alone, measured in the same run.
 * Called by test/bench/run.ts, which prints the figures.
 */

export const CLUSTER_BRIDGES = ['cba', 'cbb'];
const DOMAIN = 'example.test';

export interface ClusterPathFigures {
  single: ServerFigures;
  cluster: ServerFigures;
  /** cluster windowed/s divided by single-node windowed/s. */
  windowedRatio: number;
  /** Added median ping-pong latency, µs. */
  addedPingPongP50us: number;
  /** The cluster's processes in the order of cpuUsPerStanzaByProcess, with their roles. */
  processes: string[];
  windowedMet: boolean;
  latencyMet: boolean;
}

export async function runClusterPathBench(o: ComponentBenchOptions): Promise<ClusterPathFigures> {
  const server = await startOurNode(o.secret, CLUSTER_BRIDGES);
  let single: ServerFigures;
  try {
    single = await benchServer({ ...server, name: 'one node (alone)' }, o);
  } finally {
    await server.stop();
  }
  const cluster = await BenchCluster.start(CLUSTER_BRIDGES, o.secret);
  let figures: ServerFigures;
  let processes: string[] = [];
  try {
    const leader = await cluster.settled(30_000);
    const [fa, fb] = cluster.nodes.filter((n) => n !== leader) as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
    const from = `${CLUSTER_BRIDGES[0]}.${DOMAIN}`;
    const to = `${CLUSTER_BRIDGES[1]}.${DOMAIN}`;
    processes = cluster.nodes.map((n) => `${n.name} (${n === leader ? 'leader' : n === fa ? 'A' : 'B'})`);
    const a = await BenchComponent.connect(fa.componentPort, { address: from, secret: o.secret }, fa.address);
    const b = await BenchComponent.connect(fb.componentPort, { address: to, secret: o.secret }, fb.address);
    try {
      figures = { server: `cluster (A on ${fa.name}, B on ${fb.name}, leader ${leader.name})`, ...(await measurePair({ a, b, from, to }, cluster.pids(), o)) };
    } finally {
      a.close();
      b.close();
    }
  } finally {
    await cluster.close();
  }
  const windowedRatio = figures.windowed.perSecond / single.windowed.perSecond;
  const addedPingPongP50us = figures.pingPong.p50us - single.pingPong.p50us;
  return { single, cluster: figures, processes, windowedRatio, addedPingPongP50us, windowedMet: windowedRatio >= 0.5, latencyMet: addedPingPongP50us < 1000 };
}
