import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DEFAULT_RATE_LIMIT, type RateLimit } from '../../src/dns/rate-limiter.js';
import type { DnsResponderCounters } from '../../src/dns/dns-responder.js';
import { startBind, type BindServer } from '../helpers/bind-server.js';
import { processCpuMicros } from './cpu.js';
import { BENCH_DOMAIN, BIND_ADDRESS, benchZone, bindZoneText, queryLines } from './dns-bench-zone.js';
import { runNodeUdpLoad } from './dns-load.js';
import { dnsperfInstalled, runDnsperf, type LoadFigures, type LoadOptions } from './dnsperf.js';

/**
 * The responder's half of the DNS benchmark (issue 14, "Benchmark"):
 * queries per second over UDP and their latency, SRV and A for the
 * three-member zone, against our DnsResponder alone in a child process
 * (rate limit lifted, so the limit does not decide the figure) and, for
 * scale, BIND serving the same records in the same run; median of a few
 * alternating runs each. Each server is
 * pinned to core 0 and the load to core 1 where taskset exists. Then the
 * limit a node runs with (DnsResponder's defaults) under a flood from one
 * address: what it answers and what it drops, by its own counters.
 * Called by test/bench/run.ts, which prints the figures.
 */

const MEMBERS = ['127.0.0.14', '127.0.0.15', '127.0.0.16'].map((address, i) => ({ name: `cb${i + 1}`, address, componentPort: 5222 }));
/** Where the standalone responder listens (port 0): a node address of the range, free while no cluster runs. */
const RESPONDER_ADDRESS = '127.0.0.14';
const UNLIMITED: RateLimit = { queriesPerSecond: 1e9, burst: 1e9 };
/** dnsperf's default: enough in flight to keep one core busy on loopback. */
const OUTSTANDING = 100;
const HAS_TASKSET = spawnSync('taskset', ['--version']).status === 0;

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

export interface ThroughputRow {
  server: string;
  load: LoadFigures;
  /** The server process's CPU (all threads) per answered query. */
  cpuUsPerQuery: number;
  /** Queries per second of every run, in run order (the row is the median one). */
  allQps: number[];
}

export interface RateLimitFigures {
  limit: RateLimit;
  offeredQps: number;
  seconds: number;
  load: LoadFigures;
  /** The responder's own count. */
  counters: DnsResponderCounters;
}

export interface ThroughputFigures {
  tool: string;
  /** Set when the Node generator stood in for dnsperf: why. */
  fallback: string | undefined;
  seconds: number;
  runs: number;
  outstanding: number;
  pinned: boolean;
  queries: string[];
  responder: ThroughputRow;
  bind: ThroughputRow;
  limited: RateLimitFigures;
}

/** Why the Node generator stands in for dnsperf, if it does. */
function fallbackReason(): string | undefined {
  if (!dnsperfInstalled()) return 'dnsperf is not installed (apt-get install dnsperf)';
  if (process.env.BENCH_DNS_NODE_LOAD) return 'BENCH_DNS_NODE_LOAD is set';
  return undefined;
}

function load(o: LoadOptions): Promise<LoadFigures> {
  return fallbackReason() ? runNodeUdpLoad(o) : runDnsperf(o);
}

export async function runDnsThroughputBench(options: { seconds: number; runs: number; limitSeconds: number; limitQps: number }): Promise<ThroughputFigures> {
  const zone = benchZone(MEMBERS);
  const queries = queryLines(zone);
  const base = { queries, seconds: options.seconds, outstanding: OUTSTANDING, timeoutSeconds: 2, cpus: '1' };

  // Both servers up at once, runs alternating, so slow spells of a shared machine fall on both; the median run of each is kept.
  const ours = await startResponder(UNLIMITED);
  let bindServer: BindServer | undefined;
  const oursRuns: ThroughputRow[] = [];
  const bindRuns: ThroughputRow[] = [];
  try {
    bindServer = await startBind({ origin: BENCH_DOMAIN, zoneText: bindZoneText(zone, 1), address: BIND_ADDRESS });
    // named runs a worker thread per core: all of them on core 0, as ours.
    if (HAS_TASKSET) spawnSync('taskset', ['-a', '-p', '-c', '0', String(bindServer.pid)]);
    const named = bindServer;
    for (let run = 0; run < options.runs; run++) {
      oursRuns.push(await measured('ours (DnsResponder, limit lifted)', ours.child.pid!, () => load({ ...base, address: RESPONDER_ADDRESS, port: ours.port })));
      bindRuns.push(await measured(`BIND ${bindVersion()}`, named.pid, () => load({ ...base, address: BIND_ADDRESS, port: named.port })));
    }
  } finally {
    await ours.stop();
    await bindServer?.stop();
  }
  const responder = medianRun(oursRuns);
  const bind = medianRun(bindRuns);

  // The default limit, flooded from one address at a fixed offered rate.
  const guarded = await startResponder(DEFAULT_RATE_LIMIT);
  let limitedLoad: LoadFigures;
  let counters: DnsResponderCounters;
  try {
    limitedLoad = await load({ ...base, address: RESPONDER_ADDRESS, port: guarded.port, seconds: options.limitSeconds, maxQps: options.limitQps, outstanding: options.limitQps, timeoutSeconds: 1 });
  } finally {
    counters = await guarded.stop();
  }
  return {
    tool: responder.load.tool,
    fallback: fallbackReason(),
    seconds: options.seconds,
    runs: options.runs,
    outstanding: OUTSTANDING,
    pinned: HAS_TASKSET,
    queries,
    responder,
    bind,
    limited: { limit: DEFAULT_RATE_LIMIT, offeredQps: options.limitQps, seconds: options.limitSeconds, load: limitedLoad, counters },
  };
}

/** The run with the median queries per second; its latency and CPU come with it. */
function medianRun(runs: ThroughputRow[]): ThroughputRow {
  const sorted = [...runs].sort((a, b) => a.load.qps - b.load.qps);
  return { ...sorted[Math.floor((sorted.length - 1) / 2)]!, allQps: runs.map((r) => r.load.qps) };
}

async function measured(server: string, pid: number, run: () => Promise<LoadFigures>): Promise<ThroughputRow> {
  const before = processCpuMicros(pid);
  const figures = await run();
  const cpu = processCpuMicros(pid) - before;
  return { server, load: figures, cpuUsPerQuery: figures.completed > 0 ? cpu / figures.completed : NaN, allQps: [figures.qps] };
}

function bindVersion(): string {
  const out = spawnSync('/usr/sbin/named', ['-v'], { encoding: 'utf8' }).stdout ?? '';
  return /BIND (\d+\.\d+\.\d+)/.exec(out)?.[1] ?? '';
}

interface ResponderChild {
  child: ChildProcess;
  port: number;
  /** SIGTERM; resolves with the responder's counters. */
  stop(): Promise<DnsResponderCounters>;
}

async function startResponder(limit: RateLimit): Promise<ResponderChild> {
  const script = fileURLToPath(new URL('./dns-responder-server.js', import.meta.url));
  const argv = [process.execPath, script, RESPONDER_ADDRESS, String(limit.queriesPerSecond), String(limit.burst)];
  const [cmd, ...args] = HAS_TASKSET ? ['taskset', '-c', '0', ...argv] : argv;
  const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => (live.delete(child), resolve())));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the DNS responder did not start: ${out}`)), 15_000);
    const check = () => {
      const m = /READY (\d+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout!.off('data', check);
      resolve(Number(m[1]));
    };
    child.stdout!.on('data', check);
    void exited.then(() => reject(new Error(`the DNS responder exited: ${out}`)));
  });
  return {
    child,
    port,
    stop: async () => {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      const m = /COUNTERS (\{.*\})/.exec(out);
      if (!m) throw new Error(`the DNS responder printed no counters: ${out}`);
      return JSON.parse(m[1]!) as DnsResponderCounters;
    },
  };
}
