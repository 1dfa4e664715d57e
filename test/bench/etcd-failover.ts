import { EtcdBenchError, EtcdCluster, etcdVersion, type EtcdMember, type EtcdTiming } from './etcd-cluster.js';

/**
 * The etcd half of the failover benchmark (issue 13, "Benchmark"): a
 * three-member etcd on loopback, its leader killed with SIGKILL, and the
 * time until a survivor reports a new leader. Our own cluster's failover
 * rows use the same figures and row format, so the two sit in one table.
 * Called by test/bench/run.ts; prints nothing itself.
 */

export interface FailoverFigures {
  /** The row's label, e.g. `defaults (100/1000 ms)`. */
  config: string;
  trials: number;
  p50Ms: number;
  p99Ms: number;
  minMs: number;
  maxMs: number;
  /** Every trial, in run order. */
  samplesMs: number[];
  /** Trials whose new leader needed more than one new term (a split or refused vote, then a second timeout). */
  extraTermTrials: number;
}

export const TUNED: EtcdTiming = { heartbeatMs: 50, electionMs: 500 };
/** etcd's own defaults, which the untuned run leaves unset. */
const DEFAULTS: EtcdTiming = { heartbeatMs: 100, electionMs: 1000 };
/** Survivors' status is polled this often after the kill: the figures' resolution, plus one loopback round trip. */
const POLL_MS = 5;
/** A failover slower than this means something is broken, not slow. */
const NO_LEADER_MS = 30_000;

export function configLabel(tuned: boolean): string {
  return tuned ? `tuned (heartbeat ${TUNED.heartbeatMs}, elec ${TUNED.electionMs})` : `defaults (${DEFAULTS.heartbeatMs}/${DEFAULTS.electionMs} ms)`;
}

export async function runEtcdFailoverBench(options: { trials: number; tuned: boolean }): Promise<FailoverFigures> {
  const cluster = await EtcdCluster.start(options.tuned ? TUNED : undefined);
  const samples: Array<{ ms: number; terms: number }> = [];
  try {
    for (let i = 0; i < options.trials; i++) samples.push(await trial(cluster));
  } finally {
    await cluster.close();
  }
  return failoverFigures(configLabel(options.tuned), samples);
}

/** One kill: from a settled cluster to a new leader, then the killed member back and the cluster settled again. */
async function trial(cluster: EtcdCluster): Promise<{ ms: number; terms: number }> {
  const { leader, statuses } = await cluster.waitSettled(30_000);
  const killedId = statuses[0]!.leader;
  const termBefore = statuses[0]!.raftTerm;
  const survivors = cluster.members.filter((m) => m !== leader);
  const killedAt = process.hrtime.bigint();
  cluster.kill(leader);
  const found = await firstNewLeader(cluster, survivors, killedId, killedAt);
  await cluster.restart(leader);
  return { ms: found.ms, terms: found.term - termBefore };
}

/**
 * Polls both survivors independently (one slow answer must not delay the
 * other's) and resolves with the time of the first answer that names a
 * leader other than the killed member. The time is taken when that answer
 * arrives, so it over-reports by at most one poll interval plus one round trip.
 */
function firstNewLeader(cluster: EtcdCluster, survivors: EtcdMember[], killedId: string, killedAt: bigint): Promise<{ ms: number; term: number }> {
  return new Promise((resolve, reject) => {
    let done = false;
    const poll = async (m: EtcdMember): Promise<void> => {
      while (!done) {
        const s = await cluster.status(m);
        const ms = Number(process.hrtime.bigint() - killedAt) / 1e6;
        if (done) return;
        if (s && s.leader !== '0' && s.leader !== killedId) {
          done = true;
          return resolve({ ms, term: s.raftTerm });
        }
        if (ms > NO_LEADER_MS) {
          done = true;
          const tails = survivors.map((x) => cluster.logTail(x)).join('\n');
          return reject(new EtcdBenchError(`no new etcd leader ${NO_LEADER_MS} ms after killing ${killedId}\n${tails}`));
        }
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    };
    for (const m of survivors) void poll(m);
  });
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** Percentiles and extremes of one configuration's trials; shared with our cluster's failover rows. */
export function failoverFigures(config: string, samples: ReadonlyArray<{ ms: number; terms: number }>): FailoverFigures {
  const ms = samples.map((s) => s.ms);
  const sorted = [...ms].sort((a, b) => a - b);
  return {
    config,
    trials: ms.length,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    minMs: sorted[0] ?? NaN,
    maxMs: sorted.at(-1) ?? NaN,
    samplesMs: ms,
    extraTermTrials: samples.filter((s) => s.terms > 1).length,
  };
}

const COLUMNS = [36, 6, 7, 7, 7, 7];
const msText = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');

export function failoverTitle(): string {
  return `etcd ${etcdVersion()} failover (3 members, loopback): time from kill -9 of the leader to a new leader`;
}

export function failoverHeader(): string {
  const head = ['config', 'trials', 'p50 ms', 'p99 ms', 'min ms', 'max ms'];
  return head.map((c, i) => (i === 0 ? c.padEnd(COLUMNS[i]!) : c.padStart(COLUMNS[i]!))).join('  ');
}

/** One table row, aligned with failoverHeader(). */
export function formatFailoverRow(f: FailoverFigures): string {
  const cells = [f.config, String(f.trials), msText(f.p50Ms), msText(f.p99Ms), msText(f.minMs), msText(f.maxMs)];
  return cells.map((c, i) => (i === 0 ? c.padEnd(COLUMNS[i]!) : c.padStart(COLUMNS[i]!))).join('  ');
}
