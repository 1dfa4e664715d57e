import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import { latencyPercentiles, type LoadFigures, type LoadOptions } from './dnsperf.js';

/**
 * The fallback when dnsperf is not installed: a bounded UDP load generator
 * in this process, dnsperf's model in small (a fixed number of queries in
 * flight, each answer sending the next, a query unanswered within the
 * timeout counted lost, an optional rate cap). It shares this process's
 * CPU with the benchmark, so its figures are a floor, not dnsperf's.
 */

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

export async function runNodeUdpLoad(o: LoadOptions): Promise<LoadFigures> {
  const packets = o.queries.map((line) => {
    const [name, type] = line.split(' ') as [string, dnsPacket.RecordType];
    return dnsPacket.encode({ type: 'query', id: 0, flags: 0, questions: [{ type, name }] });
  });
  // A client socket: bound to an ephemeral port by the first send.
  const socket = dgram.createSocket('udp4');
  const inFlight = new Map<number, number>();
  const latencies = new Float64Array(1 << 22);
  const rcodes: Record<string, number> = {};
  let sent = 0;
  let completed = 0;
  let lost = 0;
  let nextId = 0;
  let next = 0;
  const began = performance.now();
  const endAt = began + o.seconds * 1000;
  const timeoutMs = (o.timeoutSeconds ?? 5) * 1000;
  const send = () => {
    while (inFlight.size < o.outstanding && performance.now() < endAt) {
      if (o.maxQps && sent >= ((performance.now() - began) / 1000) * o.maxQps) return;
      // Ids not still in flight: a late answer must not match a new query.
      do nextId = (nextId + 1) & 0xffff;
      while (inFlight.has(nextId));
      const packet = Buffer.from(packets[next++ % packets.length]!);
      packet.writeUInt16BE(nextId, 0);
      inFlight.set(nextId, performance.now());
      sent++;
      socket.send(packet, o.port, o.address);
    }
  };
  socket.on('message', (msg) => {
    if (msg.length < 12) return;
    const at = inFlight.get(msg.readUInt16BE(0));
    if (at === undefined) return;
    inFlight.delete(msg.readUInt16BE(0));
    const rcode = RCODES[msg[3]! & 0x0f] ?? String(msg[3]! & 0x0f);
    rcodes[rcode] = (rcodes[rcode] ?? 0) + 1;
    if (completed < latencies.length) latencies[completed] = (performance.now() - at) * 1000;
    completed++;
    send();
  });
  await new Promise<void>((resolve) => {
    const sweep = setInterval(() => {
      const now = performance.now();
      for (const [id, at] of inFlight) {
        if (now - at < timeoutMs) continue;
        inFlight.delete(id);
        lost++;
      }
      if (now >= endAt && (inFlight.size === 0 || now >= endAt + timeoutMs)) {
        lost += inFlight.size;
        clearInterval(sweep);
        resolve();
      } else send();
    }, 10);
    send();
  });
  socket.close();
  const seconds = o.seconds;
  return { tool: 'Node UDP generator', sent, completed, lost, qps: completed / seconds, ...latencyPercentiles(latencies, Math.min(completed, latencies.length)), rcodes };
}
