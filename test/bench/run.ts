import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { benchServer, type ServerFigures } from './component-bench.js';
import { PINNED, prosodyInstalled, startOurNode, startProsody, startRelay, type BenchServer } from './servers.js';

/**
 * `npm run bench`: every figure beside its baselines from the same run.
 * Component routing: two components, A sends to B, windowed and
 * ping-pong, through our node, a plain TCP relay (the physical limit) and
 * Prosody when it is installed. Then the Raft election simulation, and
 * etcd's failover (kill -9 of its leader) as the baseline for ours.
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

async function etcdBench(): Promise<void> {
  const etcd = await import('./etcd-cluster.js');
  if (!etcd.etcdInstalled()) {
    console.log(`\netcd is not installed at ${etcd.ETCD} (apt-get install etcd-server): its failover rows are missing.`);
    return;
  }
  const { runEtcdFailoverBench, failoverTitle, failoverHeader, formatFailoverRow } = await import('./etcd-failover.js');
  const trials = Number(process.env.BENCH_FAILOVER_TRIALS ?? 20);
  console.log(`\n${failoverTitle()}`);
  console.log(failoverHeader());
  const rows = [];
  for (const tuned of [false, true]) {
    const row = await runEtcdFailoverBench({ trials, tuned });
    console.log(formatFailoverRow(row));
    rows.push(row);
  }
  // The tail is trials where etcd needed a second election (a split vote, or a vote refused while the other survivor's check-quorum lease still ran; etcd 3.4 has pre-vote off by default): another randomized timeout.
  console.log(`trials that needed a second election: ${rows.map((r) => `${r.extraTermTrials} of ${r.trials} ${r.config.split(' ')[0]}`).join(', ')}`);
}

const only = process.argv[2];
if (!only || only === 'component') await componentBench();
if (!only || only === 'raft') await raftBench();
if (!only || only === 'etcd') await etcdBench();
