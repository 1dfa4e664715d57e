import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A three-member etcd cluster of child processes on loopback, for the
 * failover baseline (issue 13, "Benchmark"): static bootstrap, temporary
 * data dirs, one member at a time killed with SIGKILL and restarted on the
 * same data dir. Every child and the temp dir go when the cluster is
 * stopped, and also when this process exits or is interrupted mid-run.
 */

export const ETCD = '/usr/bin/etcd';
const HOST = '127.0.0.1';
const NAMES = ['etcd1', 'etcd2', 'etcd3'];
/** One status request; a member that does not answer in this long counts as not answering. */
const STATUS_TIMEOUT_MS = 250;

export class EtcdBenchError extends Error {
  override name = 'EtcdBenchError';
}

export function etcdInstalled(): boolean {
  return spawnSync(ETCD, ['--version']).status === 0;
}

/** `3.4.23`, from `etcd --version`. */
export function etcdVersion(): string {
  const out = spawnSync(ETCD, ['--version'], { encoding: 'utf8' }).stdout ?? '';
  return /etcd Version: (\S+)/.exec(out)?.[1] ?? 'unknown';
}

export interface EtcdTiming {
  heartbeatMs: number;
  electionMs: number;
}

/** What one member says about itself: its id and the leader it follows ('0' while it knows none). */
export interface MemberStatus {
  memberId: string;
  leader: string;
  raftTerm: number;
}

export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  readonly logFile: string;
  child: ChildProcess | undefined;
}

// Children of every live cluster: killed on exit so that an interrupted bench leaves no etcd behind.
const live = new Set<EtcdCluster>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const c of [...live]) c.stop();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      // Stop the children now, then die of the same signal (the handler was `once`, so this one is the default).
      for (const c of [...live]) c.stop();
      process.kill(process.pid, signal);
    });
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, HOST, () => s.close(() => resolve(true)));
  });
}

/** Six consecutive free ports (client, peer per member) in 30000–39999, from a random offset. */
async function freePortBase(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 30000 + 2 * Math.floor(Math.random() * 4990);
    let ok = true;
    for (let p = base; p < base + 6 && ok; p++) ok = await portFree(p);
    if (ok) return base;
  }
  throw new EtcdBenchError('no six free consecutive ports in 30000-39999 on 127.0.0.1');
}

export class EtcdCluster {
  readonly members: EtcdMember[];
  private readonly dir: string;
  private readonly timing: EtcdTiming | undefined;

  private constructor(dir: string, base: number, timing: EtcdTiming | undefined) {
    this.dir = dir;
    this.timing = timing;
    this.members = NAMES.map((name, i) => ({
      name,
      clientUrl: `http://${HOST}:${base + 2 * i}`,
      peerUrl: `http://${HOST}:${base + 2 * i + 1}`,
      dataDir: join(dir, name),
      logFile: join(dir, `${name}.log`),
      child: undefined,
    }));
  }

  /** Starts all three members (static bootstrap); `timing` undefined keeps etcd's defaults (100/1000 ms). */
  static async start(timing: EtcdTiming | undefined): Promise<EtcdCluster> {
    hookExit();
    const base = await freePortBase();
    const cluster = new EtcdCluster(mkdtempSync(join(tmpdir(), 'xmpp-bench-etcd-')), base, timing);
    live.add(cluster);
    try {
      for (const m of cluster.members) cluster.spawn(m, 'new');
      await cluster.waitSettled(30_000);
    } catch (err) {
      cluster.stop();
      throw err;
    }
    return cluster;
  }

  private args(m: EtcdMember, state: 'new' | 'existing'): string[] {
    const args = [
      '--name', m.name,
      '--data-dir', m.dataDir,
      '--listen-client-urls', m.clientUrl,
      '--advertise-client-urls', m.clientUrl,
      '--listen-peer-urls', m.peerUrl,
      '--initial-advertise-peer-urls', m.peerUrl,
      '--initial-cluster', this.members.map((x) => `${x.name}=${x.peerUrl}`).join(','),
      '--initial-cluster-state', state,
      '--initial-cluster-token', `xmpp-bench-${process.pid}`,
      '--logger', 'zap',
      '--log-outputs', 'stderr',
    ];
    if (this.timing) args.push('--heartbeat-interval', String(this.timing.heartbeatMs), '--election-timeout', String(this.timing.electionMs));
    return args;
  }

  private spawn(m: EtcdMember, state: 'new' | 'existing'): void {
    // ETCD_* variables would silently override the flags (etcd reads its config from the environment too).
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD_')));
    const log = openSync(m.logFile, 'a');
    try {
      m.child = spawn(ETCD, this.args(m, state), { stdio: ['ignore', log, log], env });
    } finally {
      closeSync(log);
    }
  }

  /** SIGKILL, as `kill -9`: the process gets no chance to close its peer connections gracefully. */
  kill(m: EtcdMember): void {
    m.child?.kill('SIGKILL');
  }

  async waitExited(m: EtcdMember): Promise<void> {
    const child = m.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => child.once('exit', () => resolve()));
  }

  /** Restarts a killed member on its data dir, as an operator would after a crash. */
  async restart(m: EtcdMember): Promise<void> {
    await this.waitExited(m);
    this.spawn(m, 'existing');
  }

  async status(m: EtcdMember): Promise<MemberStatus | undefined> {
    try {
      const res = await fetch(`${m.clientUrl}/v3/maintenance/status`, {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
        signal: AbortSignal.timeout(STATUS_TIMEOUT_MS),
      });
      if (!res.ok) return undefined;
      const body = (await res.json()) as { header?: { member_id?: string }; leader?: string; raftTerm?: string };
      if (!body.header?.member_id) return undefined;
      return { memberId: body.header.member_id, leader: body.leader ?? '0', raftTerm: Number(body.raftTerm ?? 0) };
    } catch {
      return undefined;
    }
  }

  /**
   * Waits until every member answers and all follow the same leader in the
   * same term, continuously for three heartbeats (so a member that just
   * restarted has heard the leader and will not disturb it), and returns the
   * leader's member; throws with the members' log tails after `timeoutMs`.
   */
  async waitSettled(timeoutMs: number): Promise<{ leader: EtcdMember; statuses: MemberStatus[] }> {
    const deadline = Date.now() + timeoutMs;
    const steadyMs = 3 * (this.timing?.heartbeatMs ?? 100);
    let since: { leader: string; term: number; at: number } | undefined;
    for (;;) {
      for (const m of this.members) {
        if (m.child && m.child.exitCode !== null) throw new EtcdBenchError(`${m.name} exited with ${m.child.exitCode}:\n${this.logTail(m)}`);
      }
      const statuses = await Promise.all(this.members.map((m) => this.status(m)));
      const first = statuses[0];
      const agreed =
        first !== undefined &&
        first.leader !== '0' &&
        statuses.every((s) => s !== undefined && s.leader === first.leader && s.raftTerm === first.raftTerm);
      if (!agreed) since = undefined;
      else if (!since || since.leader !== first.leader || since.term !== first.raftTerm) since = { leader: first.leader, term: first.raftTerm, at: Date.now() };
      else if (Date.now() - since.at >= steadyMs) {
        const all = statuses as MemberStatus[];
        const index = all.findIndex((s) => s.memberId === first.leader);
        if (index >= 0) return { leader: this.members[index]!, statuses: all };
      }
      if (Date.now() > deadline) {
        const seen = statuses.map((s, i) => `${this.members[i]!.name}: ${s ? `leader ${s.leader} term ${s.raftTerm}` : 'no answer'}`).join('; ');
        throw new EtcdBenchError(`etcd cluster did not settle in ${timeoutMs} ms (${seen})\n${this.members.map((m) => this.logTail(m)).join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  logTail(m: EtcdMember, lines = 15): string {
    try {
      return readFileSync(m.logFile, 'utf8').trimEnd().split('\n').slice(-lines).map((l) => `  ${m.name}| ${l}`).join('\n');
    } catch {
      return `  ${m.name}| (no log)`;
    }
  }

  /** Synchronous, so it also works from an 'exit' handler. */
  killAllNow(): void {
    for (const m of this.members) {
      if (m.child && m.child.exitCode === null && m.child.signalCode === null) m.child.kill('SIGKILL');
    }
  }

  /** Kills every member and removes the data dirs. */
  stop(): void {
    this.killAllNow();
    live.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Like stop(), after the children have really gone (so no etcd writes into a removed dir). */
  async close(): Promise<void> {
    this.killAllNow();
    await Promise.all(this.members.map((m) => this.waitExited(m)));
    this.stop();
  }
}
