import type { DnsRehomeFigures, RehomeFigures } from './dns-rehome.js';
import type { ThroughputFigures, ThroughputRow } from './dns-throughput.js';
import { percentile } from './etcd-failover.js';

/**
 * The printed form of the DNS benchmark (issue 14): the re-homing table with
 * its targets, then the responder's throughput beside BIND's, then the rate
 * limit at work. Lines only; test/bench/run.ts prints them.
 */

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '-');
const met = (ok: boolean) => (ok ? 'met' : 'NOT met');

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
}

export function rehomeTitle(trials: number): string {
  return (
    `DNS SRV re-homing, kill -9 of a call bridge's node (3 node processes on 127.0.0.14-16, BIND on 127.0.0.21), ${trials} trials each: ` +
    "from the kill to the first stanza the bridge (SrvCallBridge, defaults) receives on its new node; steady traffic, 1 stanza/ms, from a call bridge on the leader; the bridge's SRV records put it first on a follower"
  );
}

export function rehomeLines(f: DnsRehomeFigures): string[] {
  const rows = [f.staticDns, f.responder];
  const head = ['resolver', 'trials', 'p50 ms', 'p99 ms', 'min ms', 'max ms', 'sent', 'lost', 'duplicated', 'out of order'];
  const body = rows.map((r) => [r.config, String(r.trials), fmt(r.p50Ms), fmt(r.p99Ms), fmt(r.minMs), fmt(r.maxMs), fmt(r.sent), fmt(r.lost), fmt(r.duplicated), fmt(r.reordered)]);
  const lines = [...table([head, ...body]), ''];
  const label = (r: RehomeFigures) => (r === f.staticDns ? 'static' : 'responder');
  for (const r of rows) {
    lines.push(`${label(r)}: kill to the drop seen p50 ${fmt(r.dropP50Ms, 1)} ms, to the session on the new node p50 ${fmt(r.connectedP50Ms, 1)} ms; moves ${r.moves.join(' ')}`);
    lines.push(`${label(r)}: samples ms: ${r.samplesMs.map((m) => fmt(m, 1)).join(' ')}`);
  }
  const spread = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return `p50 ${fmt(percentile(sorted, 50))} ms, max ${fmt(sorted.at(-1) ?? NaN)} ms`;
  };
  lines.push(
    `responders stop serving the killed member (kill -9 to its SRV record gone, asked every 5 ms): the leader's ${spread(f.leftAnswers.leader)}, the other follower's ${spread(f.leftAnswers.follower)}`,
  );
  lines.push(
    "resolvers: static, BIND alone; responder, the responders of all three nodes in node order, the dead one included. A trial lasts under a second, inside either TTL, so at the kill the bridge moves to the next record of the answer it holds, without a lookup",
  );
  lines.push(
    `duplicates: ${rows.map((r) => `${r.duplicated} ${label(r)}${duplicateKinds(r)}`).join(', ')}; ` +
      "a stanza the dying node had written to the bridge's socket, whose confirmation had not reached the leader, is delivered again: no server can tell it from a lost one",
  );
  const bounced = rows.reduce((s, r) => s + r.bounced, 0);
  if (bounced > 0) lines.push(`bounced: ${bounced} error stanzas came back to the sender`);
  const all = (ok: (r: RehomeFigures) => boolean) => met(rows.every(ok));
  lines.push(`targets: p50 < 1 s ${all((r) => r.p50Ms < 1000)}, p99 < 3 s ${all((r) => r.p99Ms < 3000)}, 0 lost ${all((r) => r.lost === 0)} (both resolvers)`);
  return lines;
}

/** Where the duplicates came from: the new node again after the dying one, or anything else (which would be a bug). */
function duplicateKinds(r: RehomeFigures): string {
  if (r.duplicated === 0) return '';
  const others = r.duplicated - r.redelivered;
  return ` (${r.redelivered} delivered by the dying node, then again by the new one${others > 0 ? `; ${others} otherwise, not explained by the move` : ''})`;
}

export function throughputTitle(f: ThroughputFigures): string {
  const where = !f.pinned ? 'not pinned (no taskset)' : f.fallback ? 'each server pinned to core 0, the load not pinned' : 'each server pinned to core 0, the load to core 1';
  return `DNS responder throughput over UDP: ${f.tool}, median of ${f.runs} runs of ${f.seconds} s each (alternating), ${f.outstanding} queries in flight, round robin over ${f.queries.length} questions (${f.queries.map((q) => q.split(' ')[1]).join(', ')}) of one three-member zone; ${where}`;
}

export function throughputLines(f: ThroughputFigures): string[] {
  const lines: string[] = [];
  if (f.fallback) lines.push(`${f.fallback}: the load comes from a bounded Node UDP generator in the benchmark process instead (a floor: it shares that process's CPU, unpinned).`);
  const ours = f.responder;
  const head = ['server', 'queries/s', 'ours ÷ this', 'p50 µs', 'p99 µs', 'CPU µs/query', 'lost', 'rcodes'];
  const row = (r: ThroughputRow) => [
    r.server,
    fmt(r.load.qps),
    r === ours ? '1.00' : `${fmt(ours.load.qps / r.load.qps, 2)}x`,
    fmt(r.load.p50Us),
    fmt(r.load.p99Us),
    fmt(r.cpuUsPerQuery, 1),
    fmt(r.load.lost),
    Object.entries(r.load.rcodes).map(([k, v]) => `${k} ${fmt(v)}`).join(' '),
  ];
  lines.push(...table([head, row(ours), row(f.bind)]), '');
  lines.push(`queries/s of every run: ours ${ours.allQps.map((q) => fmt(q)).join(' ')}; BIND ${f.bind.allQps.map((q) => fmt(q)).join(' ')}`);
  lines.push(`ours / BIND: ${fmt(ours.load.qps / f.bind.load.qps, 2)} of its queries per second, ${fmt(ours.cpuUsPerQuery / f.bind.cpuUsPerQuery, 1)}x its CPU per query; latency is at saturation (${f.outstanding} in flight), mostly queueing`);
  lines.push(`ours is the DnsResponder class a node runs, alone in a child process with its per-address rate limit lifted (the load comes from one address); the node's own responder keeps the limit, below`);
  const l = f.limited;
  const expected = l.limit.burst + l.limit.queriesPerSecond * l.seconds;
  lines.push(
    `rate limit as a node runs it (${fmt(l.limit.queriesPerSecond)} queries/s per source address, burst ${fmt(l.limit.burst)}): ${fmt(l.offeredQps)} queries/s offered for ${l.seconds} s from one address, ` +
      `${fmt(l.counters.answered)} answered and ${fmt(l.counters.rateLimited)} dropped by the responder's count (${l.load.tool}: ${fmt(l.load.completed)} completed, ${fmt(l.load.lost)} lost); the bucket allows ${fmt(l.limit.burst)} + ${fmt(l.limit.queriesPerSecond)} x ${l.seconds} = ${fmt(expected)}`,
  );
  return lines;
}
