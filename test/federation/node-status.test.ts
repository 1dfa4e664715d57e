import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureLoopbackAddress } from '../helpers/bind-server.js';
import {
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
  type Rig,
} from '../helpers/federation-node.js';

/**
 * What an operator sees of a node's federation (federation.md, "Commands"
 * and "Errors on the wire"): a domain whose static route leads nowhere
 * bounces `<remote-server-not-found/>` to the sender, and `xmpp federation
 * status` counts the streams really open, by direction, next to the
 * settings the commands made.
 */

let rig: Rig;
/** Nothing listens here: a static route to it is refused at once. */
const NOWHERE = '127.0.13.35';
beforeAll(async () => {
  rig = await startRig({ dns: '127.0.13.31', ours: '127.0.13.32', prosody: '127.0.13.33', ejabberd: '127.0.13.34' });
  await ensureLoopbackAddress(NOWHERE);
}, 60_000);
afterAll(async () => rig?.stop());

const cleanups: Cleanups = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('xmpp federation status and an unreachable domain, on a node federating with real peers', () => {
  it('a static route where nothing listens bounces <remote-server-not-found/>; status counts 3 connections (1 incoming, 2 outgoing)', async () => {
    const ours = await startOurNode(
      rig,
      { mode: 'dialback', federation: [`xmpp federation allow add *.${PROSODY}`, `xmpp federation allow add *.${EJABBERD}`, `xmpp federation route add dead.test ${NOWHERE}:5269`] },
      cleanups,
    );
    const prosody = await startProsodyPeer(rig, 'dialback', cleanups);
    const ejabberd = await startEjabberdPeer(rig, 'dialback', cleanups);
    await withLogs(ours, [prosody, ejabberd], async () => {
      // dead.test is allowed by its static route (allow mode); the route is all there is, and it leads nowhere.
      await ours.bridge.sendMessage('dead.test', 'to nowhere', 'nowhere');
      const bounce = await ours.inbox.stanza('nowhere');
      expect(bounce.attrs).toMatchObject({ type: 'error', from: 'dead.test', to: OUR_BRIDGE });
      expect(bounce.getChild('error')!.getChild('remote-server-not-found', 'urn:ietf:params:xml:ns:xmpp-stanzas')).toBeDefined();
      expect(ours.log.events('connection-opened', { domain: 'dead.test' })).toEqual([]);

      // Both ways with Prosody; one way to ejabberd (its component never writes back, so it opens nothing to us).
      await exchange(ours, prosody, 'status');
      await ours.bridge.sendMessage(ejabberd.component, 'one way', 'one-way');
      expect(await ejabberd.inbox.next('one-way')).toMatchObject({ from: OUR_BRIDGE, body: 'one way' });

      expect(await ours.mmp('xmpp federation status')).toBe(
        [
          'Federation           : enabled',
          'Dialback secret      : set',
          'Security mode        : TLS required',
          'Client certificates  : not required',
          'SASL EXTERNAL        : incoming on, outgoing on',
          'Privacy mode         : Allow list',
          'Allow list           : 2 domains',
          'Deny list            : 0 domains',
          'Static routes        : 1 domain',
          'Connections          : 3 (1 incoming, 2 outgoing)',
        ].join('\n') + '\n',
      );
      expect(await ours.mmp('xmpp federation route list')).toBe(`dead.test  ${NOWHERE}:5269\n`);

      // The count follows the streams: ejabberd goes away, its stream ends.
      await ejabberd.server.stop();
      await ours.log.waitFor('connection-closed', { domain: ejabberd.component, direction: 'outgoing' });
      expect(await ours.mmp('xmpp federation status')).toMatch(/^Connections {10}: 2 \(1 incoming, 1 outgoing\)$/m);

      // No key or digest anywhere in the node's log (federation.md, "Event log").
      expect(ours.log.text()).not.toMatch(/[0-9a-f]{64}/i);
      expect(ours.log.text()).not.toContain(ours.running.node.federation.settings().dialbackSecret!);
    });
  }, 90_000);
});
