import { BenchComponent, stanza } from './bench-component.js';
import { BenchCluster, BenchClusterError, type BenchClusterNode } from './bench-cluster.js';
import { CLUSTER_BRIDGES } from './cluster-bench.js';
import { failoverFigures, percentile, type FailoverFigures } from './etcd-failover.js';

/**
 * Our half of the failover benchmark (issue 13, "Benchmark"): steady
 * traffic from call bridge A to B, both on followers, the leader killed with
 * SIGKILL, and the time from the kill to the first delivery at B of a stanza
 * sent after the kill (deliveries of stanzas already past the leader do not
 * count: they show nothing about failover). Sequence numbers in the bodies
 * give stanzas lost and duplicated. Between trials the killed node restarts
 * as a follower, and a bridge on the new leader moves to the restarted node,
 * so the next kill again leaves both bridges' nodes alive.
 */

const DOMAIN = 'example.test';
const FROM = `${CLUSTER_BRIDGES[0]}.${DOMAIN}`;
const TO = `${CLUSTER_BRIDGES[1]}.${DOMAIN}`;
/** Target rate of the steady traffic: one stanza a millisecond, which is also the figures' resolution. */
const PER_MS = 1;
/** Traffic keeps going this long after it resumed, so that late replays or doubles would show. */
const AFTER_RESUME_MS = 300;
const NO_DELIVERY_MS = 30_000;

export interface ClusterFailoverFigures extends FailoverFigures {
  /** Kill to the first delivery of any stanza (including ones already past the leader). */
  anyDeliveryP50Ms: number;
  anyDeliveryP99Ms: number;
  sent: number;
  lost: number;
  duplicated: number;
  /** Arrivals with a lower sequence number than one already delivered. */
  reordered: number;
  /** Leader killed in each trial, then the one after it. */
  leaders: string[];
}

/** B's side: sequence numbers from the bodies, across chunk edges, with arrival times. */
class SeqReceiver {
  counts = new Map<number, number>();
  maxSeen = -1;
  reordered = 0;
  probeSeen = false;
  onArrival: (seq: number, t: number) => void = () => undefined;
  private tail = '';

  constructor(readonly component: BenchComponent) {
    component.socket.on('data', (d: string) => this.parse(d));
  }

  reset(): void {
    this.counts.clear();
    this.maxSeen = -1;
    this.reordered = 0;
    this.probeSeen = false;
  }

  private parse(d: string): void {
    const t = now();
    const text = this.tail + d;
    const end = text.lastIndexOf('</message>');
    if (end === -1) {
      this.tail = text;
      return;
    }
    this.tail = text.slice(end + '</message>'.length);
    for (const m of text.slice(0, end).matchAll(/payload (p?)(\d+)</g)) {
      if (m[1]) {
        this.probeSeen = true;
        continue;
      }
      const seq = Number(m[2]);
      this.counts.set(seq, (this.counts.get(seq) ?? 0) + 1);
      if (seq < this.maxSeen) this.reordered++;
      else this.maxSeen = seq;
      this.onArrival(seq, t);
    }
  }
}

const start = process.hrtime.bigint();
const now = () => Number(process.hrtime.bigint() - start) / 1e6; // ms
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new BenchClusterError(what());
    await sleep(1);
  }
}

interface Placement {
  node: BenchClusterNode;
  component: BenchComponent;
}

export async function runClusterFailoverBench(options: { trials: number; secret: string }): Promise<ClusterFailoverFigures> {
  const cluster = await BenchCluster.start(CLUSTER_BRIDGES, options.secret);
  const connect = async (node: BenchClusterNode, address: string): Promise<BenchComponent> => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        return await BenchComponent.connect(node.componentPort, { address, secret: options.secret }, node.address);
      } catch (err) {
        // The old session's binding may linger a moment on the cluster: retry.
        if (Date.now() > deadline) throw err;
        await sleep(50);
      }
    }
  };
  let a: Placement | undefined;
  let b: Placement | undefined;
  let receiver: SeqReceiver | undefined;
  const samples: Array<{ ms: number; terms: number }> = [];
  const anyMs: number[] = [];
  const leaders: string[] = [];
  let sent = 0;
  let lost = 0;
  let duplicated = 0;
  let reordered = 0;
  try {
    for (let trial = 0; trial < options.trials; trial++) {
      const leader = await cluster.settled(30_000);
      leaders.push(leader.name);
      const others = cluster.nodes.filter((n) => n !== leader);
      // Bridges on the two nodes that are not the leader; move whichever sits on it.
      if (!a || a.node === leader) {
        a?.component.close();
        const node = others.find((n) => n !== b?.node)!;
        a = { node, component: await connect(node, FROM) };
      }
      if (!b || b.node === leader) {
        b?.component.close();
        const node = others.find((n) => n !== a!.node)!;
        b = { node, component: await connect(node, TO) };
        receiver = new SeqReceiver(b.component);
      }
      const r = receiver!;
      r.reset();
      // The route from A to B works before anything is counted.
      for (let k = 0; !r.probeSeen; k++) {
        a.component.write(stanza(k, FROM, TO).replace('payload ', 'payload p'));
        await until(() => r.probeSeen, 100, () => '').catch(() => undefined);
        if (k > 150) throw new BenchClusterError(`no probe from ${a.node.name} reached ${b.node.name}; logs:\n${tails(cluster)}`);
      }
      const result = await oneTrial(cluster, leader, a.component, r);
      samples.push({ ms: result.ms, terms: 0 });
      anyMs.push(result.anyMs);
      sent += result.sent;
      lost += result.lost;
      duplicated += result.duplicated;
      reordered += result.reordered;
      leader.start();
    }
    leaders.push((await cluster.settled(30_000)).name);
  } finally {
    a?.component.close();
    b?.component.close();
    await cluster.close();
  }
  const anySorted = [...anyMs].sort((x, y) => x - y);
  return {
    ...failoverFigures('xmpp-cluster (kill -> delivery)', samples),
    anyDeliveryP50Ms: percentile(anySorted, 50),
    anyDeliveryP99Ms: percentile(anySorted, 99),
    sent,
    lost,
    duplicated,
    reordered,
    leaders,
  };
}

interface TrialResult {
  ms: number;
  anyMs: number;
  sent: number;
  lost: number;
  duplicated: number;
  reordered: number;
}

async function oneTrial(cluster: BenchCluster, leader: BenchClusterNode, a: BenchComponent, r: SeqReceiver): Promise<TrialResult> {
  const sentAt: number[] = [];
  let killAt = Infinity;
  let resumedAt = NaN;
  let anyAt = NaN;
  r.onArrival = (seq, t) => {
    if (t <= killAt) return;
    if (Number.isNaN(anyAt)) anyAt = t;
    if (Number.isNaN(resumedAt) && sentAt[seq]! >= killAt) resumedAt = t;
  };
  const began = now();
  let sending = true;
  const pump = () => {
    if (!sending) return;
    const due = Math.min(20, Math.floor((now() - began) * PER_MS) - sentAt.length);
    const texts: string[] = [];
    for (let k = 0; k < due; k++) {
      sentAt.push(now());
      texts.push(stanza(sentAt.length - 1, FROM, TO));
    }
    if (texts.length > 0) a.write(texts.join(''));
  };
  const timer = setInterval(pump, 1);
  try {
    await until(() => r.counts.size >= 200, 15_000, () => `steady traffic did not flow: ${r.counts.size} of ${sentAt.length} delivered`);
    killAt = now();
    await leader.kill();
    await until(() => !Number.isNaN(resumedAt), NO_DELIVERY_MS, () => `no delivery ${NO_DELIVERY_MS} ms after killing ${leader.name}; logs:\n${tails(cluster)}`);
    await sleep(AFTER_RESUME_MS);
  } finally {
    sending = false;
    clearInterval(timer);
  }
  const total = sentAt.length;
  // Everything sent must arrive; then a moment more for doubles.
  await until(() => r.counts.size >= total, 15_000, () => '').catch(() => undefined);
  await sleep(200);
  let lost = 0;
  let duplicated = 0;
  for (let seq = 0; seq < total; seq++) {
    const n = r.counts.get(seq) ?? 0;
    if (n === 0) lost++;
    else duplicated += n - 1;
  }
  r.onArrival = () => undefined;
  return { ms: resumedAt - killAt, anyMs: anyAt - killAt, sent: total, lost, duplicated, reordered: r.reordered };
}

function tails(cluster: BenchCluster): string {
  return cluster.nodes.map((n) => `--- ${n.name} (${n.running ? 'running' : 'down'})\n${n.logTail()}`).join('\n');
}
