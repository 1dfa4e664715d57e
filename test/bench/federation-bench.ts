import { accepts } from '../helpers/peer-process.js';
import { ensureLoopbackAddress } from '../helpers/bind-server.js';
import type { ProsodyServer } from '../helpers/prosody-server.js';
import { BenchComponent } from './bench-component.js';
import { runDetectionTrials, type DetectionMode, type DetectionTrial } from './federation-detection.js';
import { startFederationNode, type FederationBenchNode } from './federation-node.js';
import { benchComponentOn, startBenchProsody, startFederationLab, type FederationLab } from './federation-prosody-pair.js';
import { measureFlows, type FlowFigures } from './federation-throughput.js';

/**
 * Issue 15, "Benchmark": one lab (a BIND naming every domain, a test CA),
 * our node as a process, and three Prosody servers, each with a raw
 * benchmark component `cb`:
 *
 * - other.test, the peer our node federates with, and the receiver of the
 *   baseline, so ours and the baseline differ only in the sender;
 * - alpha.test, the baseline's sender (Prosody-to-Prosody federation);
 * - silent.test, the one SIGSTOPped for the detection trials.
 *
 * Every stream is TLS + dialback (federation-prosody-pair.ts says why).
 * Called by test/bench/run.ts, which prints the figures (federation-report.ts).
 */

export const FEDERATION_ADDRESSES = {
  dns: '127.0.10.1',
  ours: { domain: 'example.test', address: '127.0.10.2' },
  other: { domain: 'other.test', address: '127.0.10.3' },
  alpha: { domain: 'alpha.test', address: '127.0.10.4' },
  silent: { domain: 'silent.test', address: '127.0.10.5' },
};

export interface FederationBenchOptions {
  stanzas: number;
  window: number;
  runs: number;
  warmup: number;
  trials: number;
  trafficMs: number;
  /** Detection trials' modes (all three by default). */
  modes?: DetectionMode[];
  secret: string;
}

export interface FederationFigures {
  /** ours → other, alpha → other (the baseline), other → ours, other → alpha (the reverse baseline). */
  out: { ours: FlowFigures; prosody: FlowFigures };
  in: { ours: FlowFigures; prosody: FlowFigures };
  detection: DetectionTrial[];
  /** Our node's streams as `xmpp federation connections --json` shows them after the throughput runs. */
  streams: Array<{ domain: string; direction: string; tls: string | null; auth: string }>;
  /**
   * Prosody's own account of the baseline's incoming stream (its log): the
   * TLS it negotiated, or null when no completed, encrypted stream from
   * alpha.test is logged. It authenticated by dialback: with a CA that signs
   * nobody, Prosody offers no SASL EXTERNAL (FederationLab.trusted).
   */
  prosodyBaselineTls: string | null;
}

export async function runFederationBench(o: FederationBenchOptions): Promise<FederationFigures> {
  const A = FEDERATION_ADDRESSES;
  const peers = [A.ours, A.other, A.alpha, A.silent];
  await Promise.all([A.dns, ...peers.map((p) => p.address)].map(ensureLoopbackAddress));
  const lab = await startFederationLab(A.dns, peers);
  const cleanups: Array<() => Promise<void> | void> = [() => lab.stop()];
  const diagnostics: Array<() => string> = [];
  try {
    const [other, alpha, silent] = await Promise.all([A.other, A.alpha, A.silent].map((p) => startBenchProsody(lab, p.domain, p.address)));
    cleanups.push(() => other!.stop(), () => alpha!.stop(), () => silent!.stop());
    for (const p of [other!, alpha!, silent!]) diagnostics.push(() => `--- prosody ${p.domain} log (tail) ---\n${p.log().slice(-4000)}`);
    const node = await startFederationNode(lab, { ...A.ours, secret: o.secret, allow: [A.other, A.silent].flatMap((p) => [p.domain, `cb.${p.domain}`]) });
    cleanups.push(() => node.stop());
    diagnostics.push(() => `--- our node's log (tail) ---\n${node.log().slice(-6000)}`);
    const ours = await componentOnNode(node, o.secret);
    const onOther = await benchComponentOn(other!);
    const onAlpha = await benchComponentOn(alpha!);
    const onSilent = await benchComponentOn(silent!);
    cleanups.push(() => [ours, onOther, onAlpha, onSilent].forEach((c) => c.close()));
    const cb = (d: string) => `cb.${d}`;
    const flows = await measureFlows(
      [
        { label: 'ours → Prosody', pair: { a: ours, b: onOther, from: cb(A.ours.domain), to: cb(A.other.domain) }, senderPid: node.pid, receiverPid: other!.process.pid },
        { label: 'Prosody → Prosody', pair: { a: onAlpha, b: onOther, from: cb(A.alpha.domain), to: cb(A.other.domain) }, senderPid: alpha!.process.pid, receiverPid: other!.process.pid },
        { label: 'Prosody → ours', pair: { a: onOther, b: ours, from: cb(A.other.domain), to: cb(A.ours.domain) }, senderPid: other!.process.pid, receiverPid: node.pid },
        { label: 'Prosody → Prosody (reverse)', pair: { a: onOther, b: onAlpha, from: cb(A.other.domain), to: cb(A.alpha.domain) }, senderPid: other!.process.pid, receiverPid: alpha!.process.pid },
      ],
      o,
    );
    const streams = (JSON.parse(await node.mmp('xmpp federation connections --json')) as { connections: FederationFigures['streams'] }).connections;
    const detection = await runDetectionTrials(
      { log: node.log, peerPid: silent!.process.pid, ours, theirs: onSilent, from: cb(A.ours.domain), to: cb(A.silent.domain) },
      { trials: o.trials, trafficMs: o.trafficMs, ...(o.modes ? { modes: o.modes } : {}) },
    );
    return {
      out: { ours: flows[0]!, prosody: flows[1]! },
      in: { ours: flows[2]!, prosody: flows[3]! },
      detection,
      streams: streams.map(({ domain, direction, tls, auth }) => ({ domain, direction, tls, auth })),
      prosodyBaselineTls: encryptedIncoming(other!, cb(A.alpha.domain)),
    };
  } catch (err) {
    // What the servers said, before their directories go.
    for (const d of diagnostics) console.error(d());
    throw err;
  } finally {
    for (const c of cleanups.reverse()) await c();
  }
}

async function componentOnNode(node: FederationBenchNode, secret: string): Promise<BenchComponent> {
  const deadline = Date.now() + 15_000;
  while (!(await accepts(node.address, node.componentPort))) {
    if (Date.now() > deadline) throw new Error(`our node does not accept call bridges on ${node.address}:${node.componentPort}; log tail:\n${node.log().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return BenchComponent.connect(node.componentPort, { address: `cb.${node.domain}`, secret }, node.address);
}

/** Prosody 0.12's mod_s2s logs `Incoming s2s connection <from>-><to> complete` and `Stream encrypted (<protocol> with <cipher>)` under the session's id. */
function encryptedIncoming(server: ProsodyServer, from: string): string | null {
  const lines = server.log().split('\n');
  const session = lines.map((l) => new RegExp(`(s2sin\\w+)\\tinfo\\tIncoming s2s connection ${from.replace(/\./g, '\\.')}->\\S+ complete`).exec(l)?.[1]).find(Boolean);
  if (!session) return null;
  const tls = lines.map((l) => (l.includes(`${session}\t`) ? /Stream encrypted \((\S+)/.exec(l)?.[1] : undefined)).find(Boolean);
  return tls ?? null;
}
