import { percentile } from './etcd-failover.js';
import type { FederationBenchOptions, FederationFigures } from './federation-bench.js';
import type { DetectionMode } from './federation-detection.js';
import type { FlowFigures } from './federation-throughput.js';

/**
 * The printed form of the federation benchmark (issue 15): throughput over
 * one federated stream both ways beside Prosody-to-Prosody, the time to
 * detect a silent peer, and one summary line with the targets. Lines only;
 * test/bench/run.ts prints them.
 */

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '-');
const met = (ok: boolean) => (ok ? 'met' : 'NOT met');
/** The detection target (federation.md: "a silent peer is detected by pings within 30 s"). */
const DETECT_TARGET_MS = 30_000;

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
}

export function federationTitle(o: FederationBenchOptions): string {
  return (
    `Federation (issue 15): raw components on each server (cb.example.test on our node process, cb.<domain> on Prosody ${'0.12'}), windowed, ${fmt(o.stanzas)} stanzas (${o.window} in flight) over ONE s2s stream, TLS + dialback; ` +
    `median of ${o.runs} alternating runs; our node 127.0.10.2, Prosody other.test .3 (the receiver of both outgoing rows, the sender of both incoming), alpha.test .4, BIND .1; servers not pinned (2 cores, shared with other jobs)`
  );
}

export function federationLines(f: FederationFigures): string[] {
  const head = ['flow', 'stanzas/s', 'ours ÷ Prosody', 'p50 µs', 'p99 µs', 'sender CPU µs/st', 'receiver CPU µs/st'];
  const row = (r: FlowFigures, base: FlowFigures) => [
    r.label,
    fmt(r.perSecond),
    r === base ? '1.00' : `${fmt(r.perSecond / base.perSecond, 2)}x`,
    fmt(r.p50us),
    fmt(r.p99us),
    fmt(r.senderCpuUs, 1),
    fmt(r.receiverCpuUs, 1),
  ];
  const lines = [...table([head, row(f.out.ours, f.out.prosody), row(f.out.prosody, f.out.prosody), row(f.in.ours, f.in.prosody), row(f.in.prosody, f.in.prosody)]), ''];
  const all = (r: FlowFigures) => `${r.label} ${r.allPerSecond.map((x) => fmt(x)).join(' ')}`;
  lines.push(`stanzas/s of every run: ${[f.out.ours, f.out.prosody, f.in.ours, f.in.prosody].map(all).join('; ')}`);
  lines.push(
    `sending CPU per stanza: our node ${fmt(f.out.ours.senderCpuUs, 1)} µs beside Prosody's ${fmt(f.out.prosody.senderCpuUs, 1)} µs (${fmt(f.out.prosody.senderCpuUs / f.out.ours.senderCpuUs, 1)}x less); ` +
      `receiving: ours ${fmt(f.in.ours.receiverCpuUs, 1)} µs beside Prosody's ${fmt(f.in.prosody.receiverCpuUs, 1)} µs`,
  );
  const streams = f.streams.map((s) => `${s.direction} ${s.domain} ${s.tls ?? 'plain'} ${s.auth}`).join(', ');
  lines.push(`our node's streams after the runs: ${streams || 'none'}; the baseline's, by Prosody's log: ${f.prosodyBaselineTls ? `incoming cb.alpha.test ${f.prosodyBaselineTls} dialback (Prosody trusts no certificate here)` : 'no encrypted incoming stream from cb.alpha.test logged'}`);
  lines.push('');
  lines.push(...detectionLines(f));
  return lines;
}

function spread(xs: number[]): { p50: number; max: number } {
  const sorted = [...xs].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), max: sorted.at(-1) ?? NaN };
}

function detectionLines(f: FederationFigures): string[] {
  const lines = [
    `Silent peer: with our stream up to a Prosody (silent.test, 127.0.10.5), SIGSTOP of that Prosody to our peer-unresponsive event; default liveness (ping after 10 s of silence, dead 20 s after an unanswered ping): idle and traffic-up-to are bounded by 30 s after the last sign of life (the stream's opening or a pong); traffic through the SIGSTOP by 20 s after the first unanswered checkpoint ping (every 500 stanzas)`,
  ];
  const head = ['before the SIGSTOP', 'trials', 'p50 s', 'max s', 'samples s', 'stream age at SIGSTOP s'];
  const label: Record<DetectionMode, string> = { idle: 'idle (one stanza, then nothing)', traffic: 'traffic (1 stanza/ms) up to it', through: 'traffic (1 stanza/ms) through it' };
  const rows = (['idle', 'traffic', 'through'] as const)
    .map((mode) => f.detection.filter((t) => t.mode === mode))
    .filter((ts) => ts.length > 0)
    .map((ts) => {
      const s = spread(ts.map((t) => t.detectMs));
      return [label[ts[0]!.mode], String(ts.length), fmt(s.p50 / 1000, 2), fmt(s.max / 1000, 2), ts.map((t) => fmt(t.detectMs / 1000, 2)).join(' '), ts.map((t) => fmt(t.streamAgeMs / 1000, 1)).join(' ')];
    });
  lines.push(...table([head, ...rows]));
  lines.push('the seed (Expressway) admits up to 15 minutes of blackout before it notices');
  return lines;
}

/** The one-line summary with the targets. */
export function federationSummary(f: FederationFigures): string {
  const worst = Math.max(...f.detection.map((t) => t.detectMs));
  const s = spread(f.detection.map((t) => t.detectMs));
  return (
    `federation: throughput ours → Prosody ${fmt(f.out.ours.perSecond)}/s = ${fmt(f.out.ours.perSecond / f.out.prosody.perSecond, 2)}x Prosody → Prosody (${fmt(f.out.prosody.perSecond)}/s); ` +
    `Prosody → ours ${fmt(f.in.ours.perSecond / f.in.prosody.perSecond, 2)}x; ` +
    `silent peer detected p50 ${fmt(s.p50 / 1000, 2)} s, max ${fmt(worst / 1000, 3)} s: target < 30 s ${met(worst < DETECT_TARGET_MS)}${worst >= DETECT_TARGET_MS ? ` by ${fmt(worst - DETECT_TARGET_MS)} ms (the defaults put detection at 30 s after the last sign of life)` : ''}`
  );
}
