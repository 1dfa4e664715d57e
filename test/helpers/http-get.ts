import { request } from 'node:http';
import { parsePrometheusText, type PromFamily } from './prometheus-text.js';

/** One HTTP response as the operations endpoint gave it. */
export interface HttpResult {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** A plain HTTP request over loopback (no keep-alive, so nothing holds the endpoint's close). */
export function httpGet(url: string, method = 'GET'): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer in 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** GET /metrics, parsed strictly; fails on anything but a 200 in the Prometheus text format. */
export async function scrape(base: string): Promise<Map<string, PromFamily>> {
  const r = await httpGet(`${base}/metrics`);
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}: ${r.body}`);
  if (!r.contentType.startsWith('text/plain; version=0.0.4')) throw new Error(`/metrics content type ${r.contentType}`);
  return parsePrometheusText(r.body);
}

/** Asks again until `holds` (bounded): an endpoint whose state follows the cluster has no event a test can wait on. */
export async function untilAnswer<T>(ask: () => Promise<T>, holds: (value: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | Error | undefined;
  for (;;) {
    try {
      last = await ask();
      if (holds(last)) return last;
    } catch (err) {
      last = err as Error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: last answer ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
