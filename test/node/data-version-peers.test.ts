import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '../../cluster/transport/frame-codec.js';
import { PEER_PROTOCOL_VERSION } from '../../cluster/transport/peer-hello.js';
import { TlsTransport } from '../../cluster/transport/tls-transport.js';
import { Condition } from '../helpers/condition.js';
import { makeLabPki, type LabCertificate, type LabPki } from '../cluster/transport/lab-pki.js';
import { LogCapture } from '../cluster/transport/log-capture.js';

/**
 * A mixed-version cluster during a rolling upgrade (README, "Upgrades"):
 * members whose releases speak the same peer protocol link up, including a
 * release from before the hello carried its version; a peer speaking an
 * unknown version is refused at its hello with a log line saying why.
 */

const SERVER = '127.0.12.7';
const CLIENT = '127.0.12.8';
let pki: LabPki;
let cert: LabCertificate;
const open: TlsTransport[] = [];
const sockets: TLSSocket[] = [];

beforeAll(async () => {
  pki = await makeLabPki();
  cert = await pki.trusted.issue('node-v', [SERVER, CLIENT]);
});
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(open.splice(0).map((t) => t.close()));
});
afterAll(async () => {
  await pki?.remove();
});

async function member(): Promise<{ t: TlsTransport; log: LogCapture; ups: string[]; cond: Condition }> {
  const log = new LogCapture();
  const cond = new Condition();
  const t = new TlsTransport({ self: { id: 'new', name: 'node-new', endpoint: { host: SERVER, port: 0 } }, security: () => pki.security(cert), log: log.logger, backoff: { minMs: 20, maxMs: 200 } });
  open.push(t);
  const ups: string[] = [];
  t.on('linkUp', (h) => (ups.push(h.id), cond.changed()));
  await t.start();
  return { t, log, ups, cond };
}

/** A peer of another release, on a real TLS socket: it sends the hello that release sends. */
async function peerOfAnotherRelease(to: TlsTransport, hello: Record<string, unknown>, cond?: Condition): Promise<{ received: () => string; closed: Promise<void> }> {
  const socket = connect({ host: to.self.endpoint.host, port: to.self.endpoint.port, localAddress: CLIENT, key: cert.key, cert: cert.cert, rejectUnauthorized: false, minVersion: 'TLSv1.3' } as ConnectionOptions);
  sockets.push(socket);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => (chunks.push(c), cond?.changed()));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', () => resolve());
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  socket.write(encodeFrame('hello', Buffer.from(JSON.stringify(hello))));
  return { received: () => Buffer.concat(chunks).toString('latin1'), closed };
}

const helloOf = (id: string) => ({ id, name: `node-${id}`, endpoint: { host: CLIENT, port: 5999 } });

describe('peer links between releases', () => {
  it('says its protocol version in its hello', async () => {
    const m = await member();
    const peer = await peerOfAnotherRelease(m.t, { protocol: PEER_PROTOCOL_VERSION, ...helloOf('same') }, m.cond);
    await m.cond.until(() => m.ups.includes('same'), 10_000, () => 'no link with a peer of the same protocol');
    await m.cond.until(() => peer.received().includes(`"protocol":${PEER_PROTOCOL_VERSION}`), 10_000, () => `no protocol in ${peer.received()}`);
    expect(PEER_PROTOCOL_VERSION).toBe(1);
  });

  it('links with a release from before the hello carried a version (protocol 1)', async () => {
    const m = await member();
    await peerOfAnotherRelease(m.t, helloOf('older'));
    await m.cond.until(() => m.ups.includes('older'), 10_000, () => 'no link with an older release');
    expect(m.log.find('hello_rejected')).toEqual([]);
  });

  it('refuses a peer speaking an unknown protocol version, with a log line saying why', async () => {
    const m = await member();
    const peer = await peerOfAnotherRelease(m.t, { protocol: 2, ...helloOf('future') });
    await peer.closed;
    const line = await m.log.waitFor('hello_rejected');
    expect(line.reason).toBe('the peer speaks cluster protocol version 2 and this release speaks 1: members must run releases of the same protocol version (README, "Upgrades")');
    expect(m.ups).toEqual([]);
  });
});
