import { spawn, spawnSync } from 'node:child_process';
import { closeSync, createReadStream, existsSync, openSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { percentile } from './etcd-failover.js';

/**
 * DNS load over UDP with `dnsperf` (DNS-OARC; Debian package dnsperf): a
 * time-bounded run replaying a query list, its summary read back, and every
 * answered query's latency from `-v` (one `> RCODE name type seconds` line each;
 * dnsperf 2.10 prints only the mean, so the percentiles are ours). The
 * per-query lines go to a file, not through this process, so reading them
 * costs the measured run nothing.
 */

export const DNSPERF = '/usr/bin/dnsperf';

export interface LoadOptions {
  address: string;
  port: number;
  /** `name type` lines, replayed in order, round and round. */
  queries: readonly string[];
  seconds: number;
  /** Queries in flight at once (dnsperf -q). */
  outstanding: number;
  /** Offered rate cap (dnsperf -Q); none: as fast as answers come. */
  maxQps?: number;
  /** A query unanswered this long counts as lost (dnsperf -t). */
  timeoutSeconds?: number;
  /** CPU list for taskset, where it exists. */
  cpus?: string;
}

export interface LoadFigures {
  /** What generated the load: `dnsperf 2.10.0`, or our fallback. */
  tool: string;
  sent: number;
  completed: number;
  lost: number;
  qps: number;
  p50Us: number;
  p99Us: number;
  /** Responses by RCODE name. */
  rcodes: Record<string, number>;
}

export function dnsperfInstalled(): boolean {
  return existsSync(DNSPERF);
}

export function dnsperfVersion(): string {
  const out = spawnSync(DNSPERF, ['-h'], { encoding: 'utf8' });
  return /Version (\S+)/.exec(`${out.stdout}${out.stderr}`)?.[1] ?? '?';
}

const HAS_TASKSET = spawnSync('taskset', ['--version']).status === 0;

export async function runDnsperf(o: LoadOptions): Promise<LoadFigures> {
  const dir = await mkdtemp(join(tmpdir(), 'xmpp-bench-dnsperf-'));
  try {
    const input = join(dir, 'queries.txt');
    const output = join(dir, 'out.txt');
    await writeFile(input, `${o.queries.join('\n')}\n`);
    const args = ['-s', o.address, '-p', String(o.port), '-d', input, '-l', String(o.seconds), '-q', String(o.outstanding), '-t', String(o.timeoutSeconds ?? 5), '-v'];
    if (o.maxQps) args.push('-Q', String(o.maxQps));
    const argv = HAS_TASKSET && o.cpus ? ['taskset', '-c', o.cpus, DNSPERF, ...args] : [DNSPERF, ...args];
    const fd = openSync(output, 'w');
    let stderr = '';
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', fd, 'pipe'] });
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('error', reject);
      child.once('exit', resolve);
    }).finally(() => closeSync(fd));
    const parsed = await parseOutput(output);
    const completed = parsed.summary.completed;
    if (code !== 0 || completed === undefined) throw new Error(`dnsperf ${args.join(' ')} exited with ${code}: ${stderr.slice(0, 2000)}`);
    const s = parsed.summary;
    return {
      tool: `dnsperf ${dnsperfVersion()}`,
      sent: s.sent ?? 0,
      completed,
      lost: s.lost ?? 0,
      qps: s.qps ?? 0,
      ...latencyPercentiles(parsed.latencies, parsed.count),
      rcodes: parsed.rcodes,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function latencyPercentiles(latenciesUs: Float64Array, count: number): { p50Us: number; p99Us: number } {
  const sorted = latenciesUs.subarray(0, count).sort();
  return { p50Us: percentile(sorted as unknown as number[], 50), p99Us: percentile(sorted as unknown as number[], 99) };
}

interface Parsed {
  latencies: Float64Array;
  count: number;
  rcodes: Record<string, number>;
  summary: { sent?: number; completed?: number; lost?: number; qps?: number };
}

async function parseOutput(path: string): Promise<Parsed> {
  const p: Parsed = { latencies: new Float64Array(1 << 16), count: 0, rcodes: {}, summary: {} };
  const number = (line: string, label: string) => Number(line.slice(line.indexOf(label) + label.length).trim().split(/\s+/)[0]);
  for await (const line of createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity })) {
    if (line.startsWith('> ')) {
      const fields = line.split(' ');
      // `> T name type`: a query that timed out, no latency (dnsperf counts it lost).
      if (fields[1] === 'T') continue;
      const rcode = fields[1]!;
      p.rcodes[rcode] = (p.rcodes[rcode] ?? 0) + 1;
      if (p.count === p.latencies.length) {
        const bigger = new Float64Array(p.latencies.length * 2);
        bigger.set(p.latencies);
        p.latencies = bigger;
      }
      p.latencies[p.count++] = Number(fields.at(-1)) * 1e6;
    } else if (line.includes('Queries sent:')) p.summary.sent = number(line, 'Queries sent:');
    else if (line.includes('Queries completed:')) p.summary.completed = number(line, 'Queries completed:');
    else if (line.includes('Queries lost:')) p.summary.lost = number(line, 'Queries lost:');
    else if (line.includes('Queries per second:')) p.summary.qps = number(line, 'Queries per second:');
  }
  return p;
}
