/**
 * The replicated federation settings through ClusterService on nodes linked
 * by a MemoryNetwork: a new cluster seeded with the initializing node's
 * settings (the dialback secret with them, so every node checks the same
 * keys), a joiner serving with the cluster's, a change on any member applied
 * on every member with a `federation` change event there, refusals in the
 * same words as a standalone node, and a copy kept by a member that leaves.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigurationChange, NodeConfiguration } from '../../../src/node/configuration.js';
import { DEFAULT_FEDERATION, type FederationChange } from '../../../src/node/federation-settings.js';
import type { FederationConfig } from '../../../src/s2s/server-streams.js';
import { MemoryConfiguration } from './memory-configuration.js';
import { ServiceHarness, type TestNode } from './service-harness.js';

let h: ServiceHarness;
afterEach(async () => {
  await h.close();
});

const at = (n: number) => ({ host: `10.0.0.${n}`, port: 5999 });

const SEEDED: FederationConfig = {
  enabled: true,
  dialbackSecret: 'seeded-secret',
  securityMode: 'optional',
  clientCertsRequired: true,
  saslExternal: { incoming: false, outgoing: true },
  privacyMode: 'allow',
  allow: [
    { domain: '*.friends.example', direction: 'outgoing' },
    { domain: 'partner.example', direction: 'both' },
  ],
  deny: [{ domain: 'spam.example', direction: 'incoming' }],
  routes: [{ domain: 'partner.example', targets: ['192.0.2.7:5270', 'xmpp.partner.example:5269'] }],
};

async function threeNodes(): Promise<TestNode[]> {
  h = new ServiceHarness();
  const cb1 = await h.node(1, { federation: SEEDED });
  await cb1.service.initialize();
  // A joiner's own settings differ: it serves with the cluster's once it is a member.
  const cb2 = await h.node(2, { federation: { ...DEFAULT_FEDERATION, privacyMode: 'off', dialbackSecret: 'its-own' } });
  await cb2.service.join(at(1));
  const cb3 = await h.node(3);
  await cb3.service.join(at(1));
  return [cb1, cb2, cb3];
}

const same = (n: TestNode, want: FederationConfig) => JSON.stringify(n.current.federation()) === JSON.stringify(want);

describe('federation settings in a cluster', () => {
  it("seed a new cluster with the initializing node's settings and secret; every joiner serves with them", async () => {
    const nodes = await threeNodes();
    for (const n of nodes) {
      await h.until(() => n.current.kind === 'replicated' && same(n, SEEDED), `cb${n.n} to hold the seeded federation settings`);
      expect(n.current.federation()).toEqual(SEEDED);
    }
    // The joiner's own copy is untouched while it is a member.
    expect(nodes[1]!.local.federation().privacyMode).toBe('off');
  });

  it('apply a change made on any member on every member, and tell each one', async () => {
    const [cb1, cb2, cb3] = await threeNodes();
    const seen: ConfigurationChange[] = [];
    cb3!.current.onChange((c) => seen.push(c));
    await cb2!.current.changeFederation({ type: 'security', mode: 'required' });
    await cb1!.current.changeFederation({ type: 'list-del', list: 'allow', domain: 'partner.example' });
    await cb1!.current.changeFederation({ type: 'list-add', list: 'deny', domain: 'Partner.Example', direction: 'both' });
    await cb3!.current.changeFederation({ type: 'route-del', domain: 'partner.example', target: '192.0.2.7:5270' });
    await cb2!.current.changeFederation({ type: 'route-add', domain: 'other.example', target: 'xmpp.other.example' });
    await cb3!.current.changeFederation({ type: 'sasl-external', direction: 'incoming', enabled: true });
    await cb2!.current.changeFederation({ type: 'privacy', mode: 'deny' });
    await cb1!.current.changeFederation({ type: 'client-certs', required: false });
    await cb2!.current.changeFederation({ type: 'enabled', enabled: false });
    const want: FederationConfig = {
      ...SEEDED,
      enabled: false,
      securityMode: 'required',
      clientCertsRequired: false,
      saslExternal: { incoming: true, outgoing: true },
      privacyMode: 'deny',
      allow: [{ domain: '*.friends.example', direction: 'outgoing' }],
      deny: [
        { domain: 'partner.example', direction: 'both' },
        { domain: 'spam.example', direction: 'incoming' },
      ],
      routes: [
        { domain: 'other.example', targets: ['xmpp.other.example:5269'] },
        { domain: 'partner.example', targets: ['xmpp.partner.example:5269'] },
      ],
    };
    for (const n of [cb1!, cb2!, cb3!]) await h.until(() => same(n, want), `cb${n.n} to apply the federation changes`);
    expect(seen.filter((c) => c.type === 'federation').length).toBeGreaterThanOrEqual(1);
  });

  it('generate the dialback secret once when a cluster enables federation first, the same on every member', async () => {
    h = new ServiceHarness();
    const cb1 = await h.node(1);
    await cb1.service.initialize();
    const cb2 = await h.node(2);
    await cb2.service.join(at(1));
    expect(cb1.current.federation().dialbackSecret).toBeNull();
    await cb2.current.changeFederation({ type: 'enabled', enabled: true });
    const secret = cb2.current.federation().dialbackSecret;
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    await h.until(() => cb1.current.federation().enabled, 'cb1 to apply the enable');
    expect(cb1.current.federation().dialbackSecret).toBe(secret);
    await cb1.current.changeFederation({ type: 'enabled', enabled: false });
    await cb1.current.changeFederation({ type: 'enabled', enabled: true });
    await h.until(() => cb2.current.federation().enabled, 'cb2 to apply the enable');
    expect(cb2.current.federation().dialbackSecret).toBe(secret);
  });

  it('refuse what a standalone node refuses, in the same words, changing nothing', async () => {
    const [cb1, cb2] = await threeNodes();
    await h.until(() => same(cb2!, SEEDED), 'cb2 to apply the seed');
    const standalone = new MemoryConfiguration({ federation: SEEDED });
    const refused: FederationChange[] = [
      { type: 'list-add', list: 'deny', domain: 'partner.example', direction: 'both' },
      { type: 'list-add', list: 'allow', domain: 'spam.example', direction: 'both' },
      { type: 'list-add', list: 'allow', domain: 'exa_mple.org', direction: 'both' },
      { type: 'list-add', list: 'allow', domain: 'ok.example', direction: 'sideways' as never },
      { type: 'list-del', list: 'deny', domain: 'nothere.example' },
      { type: 'route-add', domain: 'partner.example', target: 'xmpp.partner.example' },
      { type: 'route-add', domain: 'partner.example', target: 'h:99999' },
      { type: 'route-add', domain: 'partner.example', target: 'bad_host' },
      { type: 'route-del', domain: 'nowhere.example' },
      { type: 'route-del', domain: 'partner.example', target: '192.0.2.99' },
      { type: 'security', mode: 'maybe' as never },
      { type: 'privacy', mode: 'sometimes' as never },
      { type: 'dialback-secret', secret: '' },
    ];
    for (const change of refused) {
      const local = await standalone.changeFederation(change).then(() => 'accepted', (err: Error) => `${err.name}: ${err.message}`);
      const replicated = await (cb2!.current as NodeConfiguration).changeFederation(change).then(() => 'accepted', (err: Error) => `${err.name}: ${err.message}`);
      expect({ change, replicated }).toEqual({ change, replicated: local });
      expect(local).toMatch(/^OperatorError: /);
    }
    expect(standalone.federation()).toEqual(SEEDED);
    for (const n of [cb1!, cb2!]) expect(n.current.federation()).toEqual(SEEDED);
  });

  it('keep a copy when a member leaves: every setting and the secret', async () => {
    const [cb1, cb2] = await threeNodes();
    await cb1!.current.changeFederation({ type: 'route-add', domain: 'later.example', target: '198.51.100.1' });
    const want: FederationConfig = { ...SEEDED, routes: [{ domain: 'later.example', targets: ['198.51.100.1:5269'] }, ...SEEDED.routes] };
    await h.until(() => same(cb2!, want), 'cb2 to apply the route');
    await cb2!.service.leave();
    expect(cb2!.current.kind).toBe('local');
    expect(cb2!.local.federation()).toEqual(want);
    // The cluster keeps its settings.
    expect(cb1!.current.federation()).toEqual(want);
  });
});
