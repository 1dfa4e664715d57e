import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectionRows, exchange, startEjabberdPeer, startOurNode, startProsodyPeer, startRig, withLogs, type Cleanups, type Mode, type OurNode, type Peer, type Rig } from '../helpers/federation-node.js';

/**
 * A whole node (set up by MMP commands) federating with a real Prosody and a
 * real ejabberd in each of the three modes, both directions: our call bridge
 * writes to the peer's component over the stream our node opens, the
 * component answers over the stream the peer opens to our listener. The mode
 * is asserted from both sides: `xmpp federation connections` (Security and
 * Auth columns) and the peer's own log. The node's federation event log
 * names each step (federation.md, "Event log") and never a secret.
 */

let rig: Rig;
beforeAll(async () => {
  rig = await startRig({ dns: '127.0.13.1', ours: '127.0.13.2', prosody: '127.0.13.3', ejabberd: '127.0.13.4' });
}, 60_000);
afterAll(async () => rig?.stop());

const cleanups: Cleanups = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const SECURITY: Record<Mode, string> = { dialback: 'TLS 1.3', sasl: 'TLS 1.3', plain: 'none' };
const AUTH: Record<Mode, string> = { dialback: 'dialback', sasl: 'SASL', plain: 'dialback' };
const PEER_AUTH: Record<Mode, string> = { dialback: 'dialback', sasl: 'EXTERNAL', plain: 'dialback' };

/** The events each mode's two streams log, in the direction they belong to. */
function expectedEvents(mode: Mode): Array<[string, 'incoming' | 'outgoing']> {
  const both = (e: string): Array<[string, 'incoming' | 'outgoing']> => [[e, 'incoming'], [e, 'outgoing']];
  const tls = mode === 'plain' ? [] : both('tls-established');
  const auth: Array<[string, 'incoming' | 'outgoing']> = mode === 'sasl' ? both('sasl-external-succeeded') : [['dialback-sent', 'outgoing'], ['dialback-verified', 'incoming']];
  return [...both('connection-opened'), ...tls, ...auth];
}

async function federates(mode: Mode, startPeer: (rig: Rig, mode: Mode, cleanups: Cleanups) => Promise<Peer>): Promise<void> {
  const ours = await startOurNode(rig, { mode }, cleanups);
  const peer = await startPeer(rig, mode, cleanups);
  await withLogs(ours, [peer], async () => {
    await exchange(ours, peer, mode);

    const rows = await connectionRows(ours);
    const peerAddress = rig.addresses[peer.kind];
    // Incoming: from wherever the peer's socket is bound (Prosody leaves the source to the kernel).
    const address = expect.stringMatching(/^127\.0\.13\.\d+:\d+$/);
    const idle = expect.stringMatching(/^\d+:\d\d$/);
    expect(rows.sort((a, b) => (a[2]! < b[2]! ? -1 : 1))).toEqual([
      [peer.component, address, 'Incoming', SECURITY[mode], AUTH[mode], idle, 'cms1'],
      [peer.component, `${peerAddress}:5269`, 'Outgoing', SECURITY[mode], AUTH[mode], idle, 'cms1'],
    ]);

    // The peer's side of the same two streams.
    expect(await peer.facts()).toMatchObject({ established: true, encrypted: mode !== 'plain', outgoingAuth: PEER_AUTH[mode], incomingAuth: PEER_AUTH[mode] });

    for (const [event, direction] of expectedEvents(mode)) {
      const [line] = await ours.log.waitFor(event, { domain: peer.component, direction });
      expect(line).toMatchObject({ peer: expect.stringMatching(/^127\.0\.13\.\d+:\d+$/), node: 'cms1' });
    }

    // The peer goes away: both streams end, each with its reason.
    await peer.server.stop();
    const closed = await ours.log.waitFor('connection-closed', { domain: peer.component }, 20_000, 2);
    expect(closed.map((c) => c.direction).sort()).toEqual(['incoming', 'outgoing']);
    for (const c of closed) expect(['peer closed', 'error']).toContain(c.reason);

    expectNoSecrets(ours);
  });
}

/** federation.md: keys, secrets and digests never appear in the event log. */
function expectNoSecrets(ours: OurNode): void {
  const secret = ours.running.node.federation.settings().dialbackSecret!;
  expect(secret.length).toBeGreaterThan(8);
  const federationLines = ours.log.raw.join('').split('\n').filter((l) => l.includes('"XMPPFederation"'));
  expect(federationLines.length).toBeGreaterThan(5);
  for (const line of federationLines) {
    // One module key per line (pino writes a bound key and a repeated one both).
    expect(line.match(/"module":/g)).toHaveLength(1);
    expect(line).not.toContain(secret);
    expect(line).not.toMatch(/[0-9a-f]{64}/i);
    expect(line).not.toContain('PRIVATE KEY');
  }
  expect(ours.log.text()).not.toContain(secret);
}

describe('a node federating with a real Prosody (other.test), set up by MMP commands', () => {
  it('dialback over TLS when neither trusts the other\'s CA: TLS 1.3 and dialback both ways', () => federates('dialback', startProsodyPeer), 90_000);
  it('SASL EXTERNAL both ways with a CA both trust (ours through xmpp certs <key> <crt> <bundle>)', () => federates('sasl', startProsodyPeer), 90_000);
  it('plain streams with dialback after xmpp federation security none, where Prosody allows them', () => federates('plain', startProsodyPeer), 90_000);
});

describe('a node federating with a real ejabberd (third.test), set up by MMP commands', () => {
  it('dialback over TLS when neither trusts the other\'s CA: TLS 1.3 and dialback both ways', () => federates('dialback', startEjabberdPeer), 90_000);
  it('SASL EXTERNAL both ways with a CA both trust, dialback not loaded in ejabberd', () => federates('sasl', startEjabberdPeer), 90_000);
  it('plain streams with dialback after xmpp federation security none, where ejabberd allows them', () => federates('plain', startEjabberdPeer), 90_000);
});


