import { BenchComponent, stanza } from './bench-component.js';

/**
 * The two workloads of the foundation benchmark: windowed (up to `window`
 * stanzas in flight from A to B) and ping-pong (one in flight). Latency of
 * stanza i is the time from its write at A to its arrival at B; one path
 * keeps order, so the i-th arrival is stanza i.
 */

export interface WorkloadResult {
  stanzas: number;
  seconds: number;
  perSecond: number;
  p50us: number;
  p99us: number;
}

export interface Pair {
  a: BenchComponent;
  b: BenchComponent;
  from: string;
  to: string;
}

export function windowed(pair: Pair, total: number, window: number, batch = 50): Promise<WorkloadResult> {
  return run(pair, total, window, batch);
}

export function pingPong(pair: Pair, total: number): Promise<WorkloadResult> {
  return run(pair, total, 1, 1);
}

function run({ a, b, from, to }: Pair, total: number, window: number, batch: number): Promise<WorkloadResult> {
  const texts = Array.from({ length: total }, (_, i) => stanza(i, from, to));
  const sentAt = new Float64Array(total);
  const latency = new Float64Array(total);
  let sent = 0;
  let received = 0;
  const start = process.hrtime.bigint();
  const now = () => Number(process.hrtime.bigint() - start) / 1000; // µs
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`workload stalled at ${received}/${total} received`)), 120_000);
    const pump = () => {
      while (sent < total && sent - received < window) {
        const n = Math.min(batch, window - (sent - received), total - sent);
        const t = now();
        for (let k = 0; k < n; k++) sentAt[sent + k] = t;
        a.write(n === 1 ? texts[sent]! : texts.slice(sent, sent + n).join(''));
        sent += n;
      }
    };
    b.onReceive = (n) => {
      const t = now();
      for (let k = 0; k < n && received < total; k++, received++) latency[received] = t - sentAt[received]!;
      if (received >= total) {
        clearTimeout(timer);
        b.onReceive = () => undefined;
        const seconds = t / 1e6;
        const sorted = latency.slice().sort();
        resolve({
          stanzas: total,
          seconds,
          perSecond: total / seconds,
          p50us: sorted[Math.floor(total * 0.5)]!,
          p99us: sorted[Math.floor(total * 0.99)]!,
        });
        return;
      }
      pump();
    };
    pump();
  });
}
