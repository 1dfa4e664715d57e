import { afterEach, describe, expect, it } from 'vitest';
import { handshakeDigest } from '../../src/component/handshake.js';
import { LocalRouter } from '../../src/router/local-router.js';
import type { Route } from '../../src/router/router.js';
import { COMPONENT_HEADER, RawClient, streamIdOf } from '../helpers/raw-client.js';
import { startTestNode, type TestNode } from '../helpers/test-node.js';

/**
 * A cluster's leader delivers the stanzas it held for a call bridge as soon
 * as it learns of the bridge's new session, which can be before the member
 * holding that session may answer the handshake (it waits for the leader's
 * table). XEP-0114 allows nothing before `<handshake/>`: xmpp.js, like a CMS
 * call bridge, takes anything else as a failed handshake and hangs up.
 */
describe('stanzas routed to a call bridge before its handshake is answered', () => {
  let t: TestNode | undefined;
  afterEach(async () => t?.close());

  it('are written after <handshake/>, in order, none lost', async () => {
    let admit: (() => void) | undefined;
    t = await startTestNode({
      router: (env) => {
        const local = new LocalRouter(env);
        // As the cluster's router: the route is reachable (and written to) before `ready` comes.
        return Object.assign(Object.create(local) as LocalRouter, {
          attach(route: Route, ready?: () => void) {
            local.attach(route);
            route.deliver(`<message from='cb2.example.test' to='${route.address}'><body>held 1</body></message>`);
            route.deliver(`<message from='cb2.example.test' to='${route.address}'><body>held 2</body></message>`);
            admit = ready;
          },
        });
      },
    });
    const c = await RawClient.connect(t.ports[0]);
    c.send(COMPONENT_HEADER('cb1.example.test'));
    await c.waitFor(/<stream:stream[^>]*>/);
    c.send(`<handshake>${handshakeDigest(streamIdOf(c.received), t.secrets.cb1!)}</handshake>`);
    await expect.poll(() => admit).toBeDefined();
    const header = c.received;
    admit!();
    await c.waitFor('held 2');
    expect(c.received.slice(header.length)).toMatch(/^<handshake\/><message [^>]*><body>held 1<\/body><\/message><message [^>]*><body>held 2<\/body><\/message>$/);
    c.destroy();
  });
});
