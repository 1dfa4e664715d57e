import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { benchServer, type ServerFigures } from './component-bench.js';
import { PINNED, prosodyInstalled, startOurNode, startProsody, startRelay, type BenchServer } from './servers.js';

/**
 * `npm run bench`: every figure beside its baselines from the same run.
 * Component routing: two components, A sends to B, windowed and
 * ping-pong, through our node, a plain TCP relay (the physical limit) and
 * Prosody when it is installed. Then the Raft election simulation, the
 * cluster path beside one node, and our failover beside etcd's (kill -9 of
 * the leader) in one table. Then DNS SRV (issue 14): call bridges re-homed
 * through a static zone and through our responders, and the responder's
 * queries per second beside BIND's.
 */

const STANZAS = Number(process.env.BENCH_STANZAS ?? 100_000);
const PING_PONG = Number(process.env.BENCH_PINGPONG ?? 100_000);
const WINDOW = 1000;
const SECRET = 'bench-secret-0123456789';
const NAMES = ['cba', 'cbb'];

async function withServer(start: () => Promise<BenchServer>): Promise<ServerFigures> {
  const server = await start();
  try {
    return await benchServer(server, { stanzas: STANZAS, pingPongStanzas: PING_PONG, window: WINDOW, secret: SECRET });
  } finally {
    await server.stop();
  }
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function table(rows: ServerFigures[], ours: ServerFigures): string {
  const head = ['server', 'windowed/s', 'ours ÷ this', 'p50 µs', 'p99 µs', 'CPU µs/st', 'ping-pong/s', 'p50 µs', 'p99 µs', 'CPU µs/st'];
  const body = rows.map((r) => [
    r.server,
    fmt(r.windowed.perSecond),
    r === ours ? '1.00' : `${fmt(ours.windowed.perSecond / r.windowed.perSecond, 2)}x`,
    fmt(r.windowed.p50us),
    fmt(r.windowed.p99us),
    fmt(r.windowed.cpuUsPerStanza, 2),
    fmt(r.pingPong.perSecond),
    fmt(r.pingPong.p50us, 1),
    fmt(r.pingPong.p99us, 1),
    fmt(r.pingPong.cpuUsPerStanza, 2),
  ]);
  const all = [head, ...body];
  const widths = head.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  return all.map((row) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}

async function componentBench(): Promise<void> {
  console.log(`Component routing: ${fmt(STANZAS)} stanzas windowed (${WINDOW} in flight), ${fmt(PING_PONG)} ping-pong; server ${PINNED ? 'pinned to core 0 (taskset)' : 'not pinned (no taskset)'}`);
  const ours = await withServer(() => startOurNode(SECRET, NAMES));
  const relay = await withServer(() => startRelay());
  const rows = [ours, relay];
  if (prosodyInstalled()) rows.push(await withServer(() => startProsody(SECRET, NAMES, 15347)));
  else console.log('Prosody is not installed (apt-get install prosody): its row is missing.');
  console.log(table(rows, ours));
  console.log('');
  console.log(`ours / relay (the physical limit): ${fmt(ours.windowed.perSecond / relay.windowed.perSecond, 2)} of its windowed throughput`);
  const prosody = rows.find((r) => r.server === 'Prosody');
  if (prosody) console.log(`ours / Prosody: ${fmt(ours.windowed.perSecond / prosody.windowed.perSecond, 1)}x windowed, ${fmt(prosody.windowed.cpuUsPerStanza / ours.windowed.cpuUsPerStanza, 1)}x less CPU per stanza`);
  const target = ours.windowed.perSecond >= 200_000 && ours.windowed.cpuUsPerStanza <= 5;
  console.log(`target (>= 200,000/s windowed, <= 5 µs CPU per stanza on one core): ${target ? 'met' : 'NOT met'}`);
}

async function raftBench(): Promise<void> {
  const path = fileURLToPath(new URL('./raft-election.js', import.meta.url));
  if (!existsSync(path)) {
    console.log('Raft election benchmark: not built yet.');
    return;
  }
  const { runRaftElectionBench } = (await import(path)) as { runRaftElectionBench: (o?: { seeds?: number }) => string };
  console.log('\nRaft (simulated): election after leader loss');
  console.log(runRaftElectionBench());
}

const TRIALS = Number(process.env.BENCH_FAILOVER_TRIALS ?? 20);
/** Alternating windowed rounds of one node and the cluster (cluster-bench.ts): an odd number, so one is the median. */
const CLUSTER_ROUNDS = Number(process.env.BENCH_CLUSTER_ROUNDS ?? 5);

async function clusterPathBench(): Promise<void> {
  const { runClusterPathBench } = await import('./cluster-bench.js');
  console.log(`\nCluster path: A on one follower, B on the other, the leader in between (three node processes on 127.0.0.14-16), beside one node alone; ${fmt(STANZAS)} windowed (${WINDOW} in flight) in ${CLUSTER_ROUNDS} alternating rounds, the median round shown; ${fmt(PING_PONG)} ping-pong; CPU summed over the nodes`);
  const f = await runClusterPathBench({ stanzas: STANZAS, pingPongStanzas: PING_PONG, window: WINDOW, secret: SECRET, rounds: CLUSTER_ROUNDS });
  console.log(table([f.single, f.cluster], f.single));
  console.log('');
  console.log(`cluster / one node: ${fmt(f.windowedRatio, 2)} of windowed throughput (rounds: ${f.roundRatios.map((r) => fmt(r, 2)).join(', ')}), ${fmt(f.cluster.pingPong.perSecond / f.single.pingPong.perSecond, 2)} of ping-pong; ping-pong p50 +${fmt(f.addedPingPongP50us, 1)} µs, p99 +${fmt(f.cluster.pingPong.p99us - f.single.pingPong.p99us, 1)} µs`);
  const split = (w: { cpuUsPerStanzaByProcess: number[] }) => f.processes.map((p, i) => `${p} ${fmt(w.cpuUsPerStanzaByProcess[i]!, 1)}`).join(', ');
  console.log(`cluster CPU µs per stanza by node: windowed ${split(f.cluster.windowed)}; ping-pong ${split(f.cluster.pingPong)}`);
  console.log(`target windowed >= 0.5 of one node: ${f.windowedMet ? 'met' : 'NOT met'}; target < 1 ms added p50 in ping-pong: ${f.latencyMet ? 'met' : 'NOT met'}`);
}

/** Our failover rows, then etcd's when `withEtcd`, in one table with one header. */
async function failoverBench(withEtcd: boolean): Promise<void> {
  const { runClusterFailoverBench } = await import('./cluster-failover.js');
  const { failoverHeader, formatFailoverRow } = await import('./etcd-failover.js');
  const etcd = await import('./etcd-cluster.js');
  const etcdHere = withEtcd && etcd.etcdInstalled();
  console.log(`\nFailover, kill -9 of the leader of 3 nodes on loopback, ${TRIALS} trials: ours from the kill to the first delivery of a stanza sent after it (steady traffic, 1 stanza/ms, A and B on the two other nodes)${etcdHere ? `; etcd ${etcd.etcdVersion()} from the kill to a new leader` : ''}`);
  console.log(failoverHeader());
  const ours = await runClusterFailoverBench({ trials: TRIALS, secret: SECRET });
  console.log(formatFailoverRow(ours));
  const rows = [];
  if (etcdHere) {
    const { runEtcdFailoverBench } = await import('./etcd-failover.js');
    for (const tuned of [false, true]) {
      const row = await runEtcdFailoverBench({ trials: TRIALS, tuned });
      console.log(formatFailoverRow({ ...row, config: `etcd ${row.config}` }));
      rows.push(row);
    }
  }
  console.log('');
  console.log(`ours: kill to the first delivery of any stanza (some already past the leader): p50 ${fmt(ours.anyDeliveryP50Ms)} ms, p99 ${fmt(ours.anyDeliveryP99Ms)} ms`);
  console.log(`ours: ${fmt(ours.sent)} stanzas sent across the trials, ${ours.lost} lost, ${ours.duplicated} duplicated, ${ours.reordered} out of order; leaders killed: ${ours.leaders.slice(0, -1).join(' ')} (then ${ours.leaders.at(-1)})`);
  console.log(`ours: samples ms: ${ours.samplesMs.map((m) => fmt(m)).join(' ')}`);
  const met = (ok: boolean) => (ok ? 'met' : 'NOT met');
  console.log(`targets: p50 < 300 ms ${met(ours.p50Ms < 300)}, p99 < 1 s ${met(ours.p99Ms < 1000)}, 0 lost ${met(ours.lost === 0)}, 0 duplicated ${met(ours.duplicated === 0)}`);
  if (withEtcd && !etcdHere) console.log(`etcd is not installed at ${etcd.ETCD} (apt-get install etcd-server): its failover rows are missing.`);
  // The tail is trials where etcd needed a second election (a split vote, or a vote refused while the other survivor's check-quorum lease still ran; etcd 3.4 has pre-vote off by default): another randomized timeout.
  if (rows.length > 0) console.log(`etcd trials that needed a second election: ${rows.map((r) => `${r.extraTermTrials} of ${r.trials} ${r.config.split(' ')[0]}`).join(', ')}`);
}

async function etcdBench(): Promise<void> {
  const etcd = await import('./etcd-cluster.js');
  if (!etcd.etcdInstalled()) {
    console.log(`\netcd is not installed at ${etcd.ETCD} (apt-get install etcd-server): its failover rows are missing.`);
    return;
  }
  const { runEtcdFailoverBench, failoverTitle, failoverHeader, formatFailoverRow } = await import('./etcd-failover.js');
  console.log(`\n${failoverTitle()}`);
  console.log(failoverHeader());
  const rows = [];
  for (const tuned of [false, true]) {
    const row = await runEtcdFailoverBench({ trials: TRIALS, tuned });
    console.log(formatFailoverRow(row));
    rows.push(row);
  }
  console.log(`trials that needed a second election: ${rows.map((r) => `${r.extraTermTrials} of ${r.trials} ${r.config.split(' ')[0]}`).join(', ')}`);
}

const REHOME_TRIALS = Number(process.env.BENCH_REHOME_TRIALS ?? 10);
const DNSPERF_SECONDS = Number(process.env.BENCH_DNSPERF_SECONDS ?? 5);
const DNSPERF_RUNS = Number(process.env.BENCH_DNSPERF_RUNS ?? 3);
const DNS_LIMIT_SECONDS = Number(process.env.BENCH_DNS_LIMIT_SECONDS ?? 3);
const DNS_LIMIT_QPS = Number(process.env.BENCH_DNS_LIMIT_QPS ?? 2000);

/** Issue 14: call bridges re-homed by DNS SRV (static zone in BIND, and our responders), then the responder's throughput beside BIND's. */
async function dnsBench(): Promise<void> {
  const { runDnsRehomeBench } = await import('./dns-rehome.js');
  const { runDnsThroughputBench } = await import('./dns-throughput.js');
  const report = await import('./dns-report.js');
  console.log(`\n${report.rehomeTitle(REHOME_TRIALS)}`);
  const rehome = await runDnsRehomeBench({ trials: REHOME_TRIALS, secret: SECRET });
  for (const line of report.rehomeLines(rehome)) console.log(line);
  const throughput = await runDnsThroughputBench({ seconds: DNSPERF_SECONDS, runs: DNSPERF_RUNS, limitSeconds: DNS_LIMIT_SECONDS, limitQps: DNS_LIMIT_QPS });
  console.log(`\n${report.throughputTitle(throughput)}`);
  for (const line of report.throughputLines(throughput)) console.log(line);
}

const FED_STANZAS = Number(process.env.BENCH_FED_STANZAS ?? 30_000);
const FED_RUNS = Number(process.env.BENCH_FED_RUNS ?? 3);
const FED_TRIALS = Number(process.env.BENCH_FED_TRIALS ?? 3);

/** Issue 15: a call bridge on our node to a component on Prosody over one federated stream, both ways, beside Prosody to Prosody; then the time to detect a silent peer. */
async function federationBench(): Promise<void> {
  const { runFederationBench } = await import('./federation-bench.js');
  const report = await import('./federation-report.js');
  const options = { stanzas: FED_STANZAS, window: WINDOW, runs: FED_RUNS, warmup: 5000, trials: FED_TRIALS, trafficMs: 3000, secret: SECRET, ...(process.env.BENCH_FED_MODES ? { modes: process.env.BENCH_FED_MODES.split(',') as Array<'idle' | 'traffic' | 'through'> } : {}) };
  console.log(`\n${report.federationTitle(options)}`);
  const figures = await runFederationBench(options);
  for (const line of report.federationLines(figures)) console.log(line);
  console.log(report.federationSummary(figures));
}

// Sections: component, raft, cluster (path and our failover), failover (ours beside etcd's), etcd (etcd's alone), dns (issue 14), federation (issue 15). All of them by default (failover once), etcd alone only when asked.
const only = process.argv[2];
if (!only || only === 'component') await componentBench();
if (!only || only === 'raft') await raftBench();
if (!only || only === 'cluster') await clusterPathBench();
// BENCH_FAILOVER_TRIALS=0: the cluster path alone.
if (only === 'cluster' && TRIALS > 0) await failoverBench(false);
if (!only || only === 'failover') await failoverBench(true);
if (only === 'etcd') await etcdBench();
if (!only || only === 'dns') await dnsBench();
if (!only || only === 'federation') await federationBench();
