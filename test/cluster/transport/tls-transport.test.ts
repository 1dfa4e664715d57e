import { createServer } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame, encodeFrameHeader } from '../../../cluster/transport/frame-codec.js';
import type { PeerSecurity } from '../../../cluster/transport/peer-security.js';
import { TlsTransport } from '../../../cluster/transport/tls-transport.js';
import { TransportError } from '../../../cluster/transport/transport.js';
import { Condition } from '../../helpers/condition.js';
import { makeLabPki, type LabCertificate, type LabPki } from './lab-pki.js';
import { LogCapture } from './log-capture.js';
import { transportBehaviour } from './transport-behaviour.js';

let pki: LabPki;
beforeAll(async () => {
  pki = await makeLabPki();
});
afterAll(async () => {
  await pki?.remove();
});

transportBehaviour('TlsTransport', () => {
  const log = new LogCapture();
  return {
    create: (id, endpoint) =>
      new TlsTransport({
        self: { id, name: `node-${id}`, endpoint: endpoint ?? { host: '127.0.0.1', port: 0 } },
        security: () => pki.security(pki.node),
        log: log.logger,
        backoff: { minMs: 20, maxMs: 200 },
      }),
    deadEndpoint: () =>
      new Promise((resolve) => {
        const server = createServer().listen(0, '127.0.0.1', () => {
          const { port } = server.address() as { port: number };
          server.close(() => resolve({ host: '127.0.0.1', port }));
        });
      }),
  };
});

const WAIT_MS = 10_000;

describe('TlsTransport: trust and malformed peers', () => {
  const open: TlsTransport[] = [];
  const sockets: TLSSocket[] = [];
  /** One condition for every node of a test, so a wait on two nodes sees both change. */
  const cond = new Condition();
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await Promise.all(open.splice(0).map((t) => t.close()));
  });

  interface Node {
    t: TlsTransport;
    log: LogCapture;
    ups: string[];
    downs: string[];
    frames: string[];
  }

  async function node(id: string, security: () => PeerSecurity, extra: { host?: string; maxFrameBytes?: number } = {}): Promise<Node> {
    const log = new LogCapture();
    const t = new TlsTransport({ self: { id, name: `node-${id}`, endpoint: { host: extra.host ?? '127.0.0.1', port: 0 } }, security, log: log.logger, maxFrameBytes: extra.maxFrameBytes, backoff: { minMs: 20, maxMs: 200 } });
    open.push(t);
    const n: Node = { t, log, ups: [], downs: [], frames: [] };
    t.on('linkUp', (h) => (n.ups.push(h.id), cond.changed()));
    t.on('linkDown', (p) => (n.downs.push(p), cond.changed()));
    t.on('frame', (from, kind, payload) => (n.frames.push(`${from}/${kind}/${Buffer.from(payload).toString()}`), cond.changed()));
    await t.start();
    return n;
  }

  const until = (_n: Node, holds: () => boolean, what: string) => cond.until(holds, WAIT_MS, () => `timed out waiting for ${what}`);

  async function dialError(from: Node, to: Node): Promise<TransportError> {
    const err = await from.t.dial(to.t.self.endpoint, 3000).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    return err as TransportError;
  }

  /** A hand-made peer on a real TLS socket, for bytes a TlsTransport never sends. */
  async function rawPeer(to: Node, cert: LabCertificate): Promise<{ socket: TLSSocket; received: Buffer[]; closed: Promise<void> }> {
    const socket = connect({ host: to.t.self.endpoint.host, port: to.t.self.endpoint.port, key: cert.key, cert: cert.cert, rejectUnauthorized: false, minVersion: 'TLSv1.3' });
    sockets.push(socket);
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => resolve());
      socket.once('error', reject);
    });
    // After the handshake, a reset by the transport is what some tests expect.
    socket.on('error', () => undefined);
    return { socket, received, closed };
  }

  const hello = (id: string) => encodeFrame('hello', Buffer.from(JSON.stringify({ id, name: id, endpoint: { host: '127.0.0.9', port: 39999 } })));

  it('fails a dial to a server whose certificate does not chain to our bundle as peer-untrusted', async () => {
    const server = await node('rogue', () => pki.security(pki.rogue, 'stranger'));
    const client = await node('a', () => pki.security(pki.node));
    const err = await dialError(client, server);
    expect(err.code).toBe('peer-untrusted');
    expect(err.message).toMatch(/^the certificate of 127\.0\.0\.1:\d+ is not trusted: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)/);
    const line = await client.log.waitFor('peer_refused');
    expect(line).toMatchObject({ subject: 'rogue-node', remote: `127.0.0.1:${server.t.self.endpoint.port}` });
    expect(server.ups).toEqual([]);
  });

  it('fails a dial to a server whose certificate names another address as peer-untrusted', async () => {
    const server = await node('b', () => pki.security(pki.misnamed));
    const client = await node('a', () => pki.security(pki.node));
    const err = await dialError(client, server);
    expect(err.code).toBe('peer-untrusted');
    expect(err.message).toContain('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('refuses a client whose certificate does not chain, logging who, from where and why, and serves it nothing', async () => {
    const server = await node('a', () => pki.security(pki.node), { host: '127.0.0.2' });
    const rogue = await node('rogue', () => pki.security(pki.rogue, 'insecure-lab'));
    const err = await dialError(rogue, server);
    expect(err.code).toBe('refused-by-peer');
    expect(err.message).toMatch(/^127\.0\.0\.2:\d+ does not trust this node's certificate/);
    const line = await server.log.waitFor('peer_refused');
    expect(line.subject).toBe('rogue-node');
    expect(line.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(line.remote).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(line.reason).toMatch(/^UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
    // A hand-made client with the same certificate: not one byte of ours (no hello) before the close.
    const raw = await rawPeer(server, pki.rogue);
    raw.socket.write(hello('rogue'));
    await raw.closed;
    expect(Buffer.concat(raw.received).length).toBe(0);
    expect(server.ups).toEqual([]);
    expect(server.frames).toEqual([]);
  });

  it('asks security() for every new connection, so a new trust bundle applies to the next link', async () => {
    let trust: 'stranger' | 'trusted' = 'stranger';
    const server = await node('a', () => pki.security(pki.node, trust));
    const client = await node('b', () => pki.security(pki.node));
    expect((await dialError(client, server)).code).toBe('refused-by-peer');
    trust = 'trusted';
    expect((await client.t.dial(server.t.self.endpoint, 3000)).id).toBe('a');
    await until(server, () => server.ups.length === 1, 'the link');
  });

  it('closes a link whose peer the new trust bundle no longer vouches for (recheckPeers), logs it, and keeps links it still trusts', async () => {
    let trust: 'stranger' | 'trusted' = 'trusted';
    const a = await node('a', () => pki.security(pki.node, trust));
    const b = await node('b', () => pki.security(pki.node));
    a.t.setPeers(new Map([['b', b.t.self.endpoint]]));
    await until(a, () => a.ups.length === 1 && b.ups.length === 1, 'the a–b link');
    await a.t.recheckPeers();
    expect(a.downs).toEqual([]);
    await stillWorks(a, b);

    trust = 'stranger';
    await a.t.recheckPeers();
    await until(a, () => a.downs.length === 1, 'the link closed');
    const refused = a.log.find('peer_refused');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ peer: 'b', peerName: 'node-b', subject: expect.stringContaining('node-a') });
    expect(String(refused[0]!.reason)).toMatch(/^no longer trusted by the cluster's bundle: /);
  });

  it('links two insecure-lab nodes whose certificates nothing vouches for, still over TLS', async () => {
    const a = await node('a', () => pki.security(pki.rogue, 'insecure-lab'));
    const b = await node('b', () => pki.security(pki.misnamed, 'insecure-lab'));
    a.t.setPeers(new Map([['b', b.t.self.endpoint]]));
    await until(b, () => b.ups.length === 1 && a.ups.length === 1, 'the link');
    a.t.send('b', 'control', Buffer.from('hi'));
    await until(b, () => b.frames.length === 1, 'a frame');
    expect(b.frames).toEqual(['a/control/hi']);
  });

  async function linkedPair(maxFrameBytes?: number): Promise<[Node, Node]> {
    const a = await node('a', () => pki.security(pki.node), { maxFrameBytes });
    const b = await node('b', () => pki.security(pki.node));
    a.t.setPeers(new Map([['b', b.t.self.endpoint]]));
    await until(a, () => a.ups.length === 1 && b.ups.length === 1, 'the a–b link');
    return [a, b];
  }

  async function stillWorks(a: Node, b: Node): Promise<void> {
    a.t.send('b', 'raft', Buffer.from('still here'));
    await until(b, () => b.frames.includes('a/raft/still here'), 'a frame on the other link');
    expect(a.t.connected()).toEqual(['b']);
  }

  for (const [what, bytes, reason] of [
    ['a frame of unknown kind', Buffer.from([0, 0, 0, 2, 9, 0]), 'unknown-kind'],
    ['an oversized frame', encodeFrameHeader('stanza', 2000), 'oversized'],
  ] as const) {
    it(`closes only the link that sent ${what}, with a log line`, async () => {
      const [a, b] = await linkedPair(1024);
      const raw = await rawPeer(a, pki.node);
      raw.socket.write(hello('c'));
      await until(a, () => a.ups.includes('c'), 'the hand-made link');
      raw.socket.write(encodeFrame('raft', Buffer.from('fine')));
      raw.socket.write(bytes);
      await raw.closed;
      await until(a, () => a.downs.includes('c'), 'linkDown of the bad link');
      expect(a.frames).toEqual(['c/raft/fine']);
      expect(await a.log.waitFor('frame_rejected')).toMatchObject({ reason, peer: 'c', remote: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
      await stillWorks(a, b);
    });
  }

  for (const [what, frame] of [
    ['a hello that is not JSON', encodeFrame('hello', Buffer.from('{nope'))],
    ['a hello without an id', encodeFrame('hello', Buffer.from('{"name":"x","endpoint":{"host":"h","port":1}}'))],
    ['a hello with our own id', hello('a')],
    ['a Raft frame before the hello', encodeFrame('raft', Buffer.from('early'))],
  ] as const) {
    it(`closes a connection that sends ${what}, never reporting a link`, async () => {
      const [a, b] = await linkedPair();
      const raw = await rawPeer(a, pki.node);
      raw.socket.write(frame);
      await raw.closed;
      const line = await a.log.waitFor('hello_rejected');
      expect(typeof line.reason).toBe('string');
      expect(a.ups).toEqual(['b']);
      expect(a.frames).toEqual([]);
      await stillWorks(a, b);
    });
  }
});
