import { DnsResponder } from '../../src/dns/dns-responder.js';
import { silentLogger } from '../../src/observability/logger.js';
import { benchZone } from './dns-bench-zone.js';

/**
 * Our health-aware responder alone, in its own process so its CPU is read
 * apart from the load generator's: the DnsResponder class a node runs,
 * serving the three-member zone from buildZone. Prints `READY <port>`; on
 * SIGTERM prints `COUNTERS <json>` (answered, rate-limited ...) and exits.
 * argv: <address> <queries per second per source> <burst>
 */
const [address, qps, burst] = process.argv.slice(2) as [string, string, string];
const members = ['127.0.0.14', '127.0.0.15', '127.0.0.16'].map((a, i) => ({ name: `cb${i + 1}`, address: a, componentPort: 5222 }));
const responder = new DnsResponder({ log: silentLogger(), rateLimit: { queriesPerSecond: Number(qps), burst: Number(burst) } });
responder.setZone(benchZone(members));
const [listening] = await responder.listen([{ address, port: 0 }]);
process.stdout.write(`READY ${listening!.udpPort ?? listening!.port}\n`);
process.on('SIGTERM', () => {
  const counters = responder.counters;
  // Once closed nothing is left to run: the process ends by itself, after the line is written.
  void responder.close().then(() => process.stdout.write(`COUNTERS ${JSON.stringify(counters)}\n`));
});
