import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  connectionRows,
  EJABBERD,
  exchange,
  OUR_BRIDGE,
  PROSODY,
  startEjabberdPeer,
  startOurNode,
  startProsodyPeer,
  startRig,
  withLogs,
  type Cleanups,
  type OurNode,
  type Peer,
  type Rig,
} from '../helpers/federation-node.js';

/**
 * The privacy mode and lists on a whole node, against real peers
 * (federation.md, "Errors on the wire" and "Where we go further"): a domain
 * refused by policy gets `<not-allowed/>` for what our call bridge sends it
 * and `<policy-violation/>` for the stream it opens to us; a live change of
 * the lists closes exactly the streams it refuses, and every other stream
 * stays up, the same stream, still carrying messages.
 */

let rig: Rig;
beforeAll(async () => {
  rig = await startRig({ dns: '127.0.13.11', ours: '127.0.13.12', prosody: '127.0.13.13', ejabberd: '127.0.13.14' });
}, 60_000);
afterAll(async () => rig?.stop());

const cleanups: Cleanups = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const esc = (s: string) => s.replace(/\./g, '\\.');
/** Prosody 0.12's info line for a stream that ended (`... closed: <reason>`). */
function prosodyClosed(direction: 'Incoming' | 'Outgoing', from: string, to: string, reason = ''): RegExp {
  return new RegExp(`${direction} s2s stream ${esc(from)}->${esc(to)} closed: ${reason}`);
}

/** Our bridge writes to the refused peer; the peer's bridge writes to ours. Both ways refused, each as the reference says. */
async function refusedBothWays(ours: OurNode, prosody: Peer): Promise<void> {
  await ours.bridge.sendMessage(prosody.component, 'to a refused domain', 'refused-out');
  const bounce = await ours.inbox.stanza('refused-out');
  expect(bounce.attrs).toMatchObject({ type: 'error', from: prosody.component, to: OUR_BRIDGE, id: 'refused-out' });
  const error = bounce.getChild('error')!;
  expect(error.attrs.type).toBe('cancel');
  expect(error.getChild('not-allowed', 'urn:ietf:params:xml:ns:xmpp-stanzas')).toBeDefined();
  // Refused before any stream: nothing was opened to the refused domain.
  expect(ours.log.events('policy-refused', { domain: prosody.component, direction: 'outgoing' })).toHaveLength(1);

  await prosody.bridge.sendMessage(OUR_BRIDGE, 'from a refused domain', 'refused-in');
  const [refused] = await ours.log.waitFor('policy-refused', { domain: prosody.component, direction: 'incoming' });
  expect(refused).toMatchObject({ node: 'cms1', peer: expect.stringMatching(/^127\.0\.13\.\d+:\d+$/) });
  // Prosody's side: its stream to us ended with the stream error we sent.
  await prosody.server.waitForLog(prosodyClosed('Outgoing', prosody.component, OUR_BRIDGE, 'policy-violation'));
  expect(ours.inbox.messages.some((m) => m.id === 'refused-in' && !m.error)).toBe(false);
  expect(ours.log.events('connection-opened', { domain: prosody.component })).toHaveLength(0);
  expect(await connectionRows(ours)).toEqual([]);
}

describe('a node refusing a domain by policy, against a real Prosody', () => {
  it('deny mode with other.test on the deny list: <not-allowed/> to our bridge, <policy-violation/> to Prosody', async () => {
    const ours = await startOurNode(rig, { mode: 'dialback', federation: ['xmpp federation privacy deny', `xmpp federation deny add *.${PROSODY}`] }, cleanups);
    const prosody = await startProsodyPeer(rig, 'dialback', cleanups);
    await withLogs(ours, [prosody], () => refusedBothWays(ours, prosody));
  }, 60_000);

  it('allow mode without other.test on the allow list: refused both ways the same', async () => {
    const ours = await startOurNode(rig, { mode: 'dialback', federation: [`xmpp federation allow add *.${EJABBERD}`] }, cleanups);
    expect(await ours.mmp('xmpp federation status')).toMatch(/^Privacy mode\s+: Allow list$/m);
    const prosody = await startProsodyPeer(rig, 'dialback', cleanups);
    await withLogs(ours, [prosody], () => refusedBothWays(ours, prosody));
  }, 60_000);
});

describe('a live change of the allow list, with streams up to Prosody and ejabberd', () => {
  it('taking other.test off closes exactly its two streams; third.test keeps the same streams and still carries messages', async () => {
    const ours = await startOurNode(rig, { mode: 'sasl' }, cleanups);
    const prosody = await startProsodyPeer(rig, 'sasl', cleanups);
    const ejabberd = await startEjabberdPeer(rig, 'sasl', cleanups);
    await withLogs(ours, [prosody, ejabberd], async () => {
      await exchange(ours, prosody, 'before-prosody');
      await exchange(ours, ejabberd, 'before-ejabberd');
      const service = ours.running.federation.service;
      const ids = (domain: string) =>
        service
          .connections()
          .filter((r) => r.remoteDomain === domain)
          .map((r) => `${r.direction} ${r.id}`)
          .sort();
      const third = ids(ejabberd.component);
      expect(third).toHaveLength(2);
      expect(ids(prosody.component)).toHaveLength(2);

      await ours.mmp(`xmpp federation allow del *.${PROSODY}`);
      const closed = await ours.log.waitFor('connection-closed', { domain: prosody.component, reason: 'policy' }, 10_000, 2);
      expect(closed.map((c) => c.direction).sort()).toEqual(['incoming', 'outgoing']);
      // Prosody's two streams are gone; no other stream closed, and third.test's are the very same ones.
      await prosody.server.waitForLog(prosodyClosed('Outgoing', prosody.component, OUR_BRIDGE, 'policy-violation'));
      await prosody.server.waitForLog(prosodyClosed('Incoming', OUR_BRIDGE, prosody.component));
      expect(ids(prosody.component)).toEqual([]);
      expect(ids(ejabberd.component)).toEqual(third);

      await exchange(ours, ejabberd, 'after-ejabberd');
      expect(ids(ejabberd.component)).toEqual(third);
      expect(ours.log.events('connection-closed').map((c) => c.domain)).toEqual([prosody.component, prosody.component]);
      expect(ours.log.events('connection-opened', { domain: ejabberd.component })).toHaveLength(2);
      expect((await connectionRows(ours)).map((r) => [r[0], r[2]]).sort()).toEqual([
        [ejabberd.component, 'Incoming'],
        [ejabberd.component, 'Outgoing'],
      ]);

      // And other.test is refused from now on.
      await ours.bridge.sendMessage(prosody.component, 'after the change', 'after-prosody');
      expect(await ours.inbox.next('after-prosody')).toMatchObject({ type: 'error', error: 'not-allowed' });
    });
  }, 90_000);
});
