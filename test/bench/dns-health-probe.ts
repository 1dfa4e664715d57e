import { createSocket } from 'node:dgram';
import * as packet from 'dns-packet';
import { COMPONENT_SERVICE } from '../../src/dns/zone.js';

/**
 * How long the surviving nodes' responders keep serving a killed member:
 * from the kill, each responder is asked for the call-bridge SRV every few
 * milliseconds until the member's target is gone from its answer (the
 * failure detector's time plus the responder's refresh). Bounded.
 */

const EVERY_MS = 5;
const GIVE_UP_MS = 10_000;

export interface ProbedResponder {
  readonly name: string;
  readonly address: string;
  readonly port: number;
}

/** Starts asking at once; resolves per responder with ms until `target` left its answer (NaN: never, within the bound). */
export function watchTargetLeave(responders: readonly ProbedResponder[], domain: string, target: string): Promise<Record<string, number>> {
  const start = performance.now();
  return Promise.all(responders.map(async (r) => [r.name, await leaveTime(r, domain, target.toLowerCase(), start)] as const)).then(Object.fromEntries);
}

async function leaveTime(r: ProbedResponder, domain: string, target: string, start: number): Promise<number> {
  const socket = createSocket('udp4');
  try {
    for (let id = 1; performance.now() - start < GIVE_UP_MS; id = (id % 65535) + 1) {
      const answer = await ask(socket, r, domain, id);
      if (answer !== undefined && !answer.includes(target)) return performance.now() - start;
      await new Promise((resolve) => setTimeout(resolve, EVERY_MS));
    }
    return NaN;
  } finally {
    socket.close();
  }
}

/** The SRV targets of one answer, or undefined when none came in time (the responder was busy). */
function ask(socket: ReturnType<typeof createSocket>, r: ProbedResponder, domain: string, id: number): Promise<string[] | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(undefined), 200);
    const onMessage = (msg: Buffer) => {
      const decoded = packet.decode(msg);
      if (decoded.id !== id) return;
      done((decoded.answers ?? []).flatMap((a) => (a.type === 'SRV' ? [String(a.data.target).toLowerCase()] : [])));
    };
    const done = (v: string[] | undefined) => {
      clearTimeout(timer);
      socket.off('message', onMessage);
      resolve(v);
    };
    socket.on('message', onMessage);
    socket.send(packet.encode({ type: 'query', id, flags: 0, questions: [{ type: 'SRV', name: `${COMPONENT_SERVICE}.${domain}` }] }), r.port, r.address);
  });
}
