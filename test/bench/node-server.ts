import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { XmppNode } from '../../src/node/xmpp-node.js';
import { startOperationsEndpoint } from '../../src/process/metrics-wiring.js';
import { NodeMetrics } from '../../src/process/node-metrics.js';

/**
 * Our node for the benchmark, in its own process so that its CPU can be
 * read apart from the clients'. Prints `READY <port>` when it serves.
 * argv: <secret> [name...]
 */
const [secret, ...names] = process.argv.slice(2);
const dataDir = await mkdtemp(join(tmpdir(), 'xmpp-bench-node-'));
const node = await XmppNode.open({ dataDir, name: 'bench', address: '127.0.0.1', componentPorts: [0], log: pino({ level: 'warn' }) });
await node.setDomain('example.test');
await node.setListen(['a']);
for (const name of names) await node.addCallbridge(name, secret!);
await node.enable();
const state = node.serviceState();
if (state.state !== 'running') throw new Error(`bench node not running: ${JSON.stringify(state)}`);
// As `xmpp-cluster node` runs by default: metrics and probes on, scraped now and then (BENCH_METRICS=0: off, the baseline).
const log = pino({ level: 'warn' });
const metrics = process.env.BENCH_METRICS === '0' ? undefined : new NodeMetrics(node);
const http = metrics ? await startOperationsEndpoint({ node, metrics, at: { host: '127.0.0.1', port: 0 }, log }) : undefined;
const scraper = metrics ? setInterval(() => void metrics.render(), Number(process.env.BENCH_SCRAPE_MS ?? 1000)) : undefined;
process.stdout.write(`READY ${state.bindings[0]!.port}\n`);
// Closing the node ends its listeners and sessions; then nothing keeps the process alive.
process.on('SIGTERM', () => {
  clearInterval(scraper);
  void http?.close();
  void node.close();
});
