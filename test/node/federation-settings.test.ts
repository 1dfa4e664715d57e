import { readFile, writeFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConfigurationChange } from '../../src/node/configuration.js';
import { DEFAULT_FEDERATION } from '../../src/node/federation-settings.js';
import { XmppNode } from '../../src/node/xmpp-node.js';
import { LogCapture, tempDir } from '../helpers/test-node.js';

/**
 * A standalone node's federation settings in settings.json: every setting
 * survives a restart, a file written before federation loads federation.md's
 * defaults, a damaged field is refused naming the file, and every change
 * tells the node's listeners (`federation`), a refused one nothing.
 */

let node: XmppNode;
let dataDir: string;
const open = () => XmppNode.open({ dataDir, name: 'cb1', address: '127.0.8.2', log: new LogCapture().logger, serve: false });

beforeEach(async () => {
  dataDir = await tempDir();
  node = await open();
});
afterEach(async () => node.close());

describe('federation settings on a standalone node', () => {
  it("start as federation.md's defaults", () => {
    expect(node.federation.settings()).toEqual({
      enabled: false,
      dialbackSecret: null,
      securityMode: 'required',
      clientCertsRequired: false,
      saslExternal: { incoming: true, outgoing: true },
      privacyMode: 'allow',
      allow: [],
      deny: [],
      routes: [],
    });
    expect(node.configuration().federation()).toEqual(DEFAULT_FEDERATION);
  });

  it('keep every setting across a restart', async () => {
    const f = node.federation;
    await f.change({ type: 'dialback-secret', secret: 'our-secret' });
    await f.change({ type: 'enabled', enabled: true });
    await f.change({ type: 'security', mode: 'optional' });
    await f.change({ type: 'client-certs', required: true });
    await f.change({ type: 'sasl-external', direction: 'outgoing', enabled: false });
    await f.change({ type: 'privacy', mode: 'deny' });
    await f.change({ type: 'list-add', list: 'allow', domain: 'Friend.example.', direction: 'incoming' });
    await f.change({ type: 'list-add', list: 'deny', domain: '*.spam.example', direction: 'both' });
    await f.change({ type: 'route-add', domain: 'partner.net', target: 'XMPP.partner.net' });
    await f.change({ type: 'route-add', domain: 'partner.net', target: '[2001:db8::1]:5270' });
    const want = {
      enabled: true,
      dialbackSecret: 'our-secret',
      securityMode: 'optional',
      clientCertsRequired: true,
      saslExternal: { incoming: true, outgoing: false },
      privacyMode: 'deny',
      allow: [{ domain: 'friend.example', direction: 'incoming' }],
      deny: [{ domain: '*.spam.example', direction: 'both' }],
      routes: [{ domain: 'partner.net', targets: ['[2001:db8::1]:5270', 'xmpp.partner.net:5269'] }],
    };
    expect(f.settings()).toEqual(want);
    await node.close();
    node = await open();
    expect(node.federation.settings()).toEqual(want);
  });

  it('load the defaults from a settings.json written before federation, and refuse a damaged federation field naming the file', async () => {
    await node.setDomain('example.test');
    await node.federation.change({ type: 'enabled', enabled: true });
    await node.close();
    const doc = JSON.parse(await readFile(node.layout.settings, 'utf8')) as Record<string, unknown>;
    expect((doc.federation as { enabled: boolean }).enabled).toBe(true);
    delete doc.federation;
    await writeFile(node.layout.settings, JSON.stringify(doc));
    node = await open();
    expect(node.settings().domain).toBe('example.test');
    expect(node.federation.settings()).toEqual(DEFAULT_FEDERATION);
    await node.close();
    const good = { ...DEFAULT_FEDERATION, allow: [], deny: [], routes: [] };
    for (const bad of [
      { ...good, securityMode: 'sometimes' },
      { ...good, dialbackSecret: 'two words' },
      { ...good, allow: [{ domain: 'Upper.example', direction: 'both' }] },
      { ...good, allow: [{ domain: 'x.example', direction: 'both' }], deny: [{ domain: 'x.example', direction: 'incoming' }] },
      { ...good, routes: [{ domain: 'partner.net', targets: ['partner.net'] }] },
      { ...good, saslExternal: { incoming: 'yes', outgoing: true } },
    ]) {
      await writeFile(node.layout.settings, JSON.stringify({ ...doc, federation: bad }));
      await expect(open()).rejects.toThrow(/settings\.json is corrupt \(federation/);
    }
    await writeFile(node.layout.settings, JSON.stringify(doc));
    node = await open();
  });

  it("tell the node's listeners after each change that took effect, and nothing after a refusal or a change to the same value", async () => {
    const seen: ConfigurationChange[] = [];
    node.configuration().onChange((c) => seen.push(c));
    await node.federation.change({ type: 'privacy', mode: 'off' });
    expect(seen).toEqual([{ type: 'federation' }]);
    await node.federation.change({ type: 'privacy', mode: 'off' });
    await expect(node.federation.change({ type: 'list-del', list: 'allow', domain: 'none.example' })).rejects.toThrow('none.example is not on the allow list');
    expect(seen).toEqual([{ type: 'federation' }]);
  });

  it('run concurrent changes one at a time, none lost', async () => {
    const domains = Array.from({ length: 12 }, (_, i) => `d${i}.example`);
    await Promise.all(domains.map((domain) => node.federation.change({ type: 'list-add', list: 'allow', domain, direction: 'both' })));
    expect(node.federation.settings().allow.map((e) => e.domain)).toEqual([...domains].sort());
    await node.close();
    node = await open();
    expect(node.federation.settings().allow).toHaveLength(12);
  });

  it('go back to the defaults on xmpp reset', async () => {
    await node.federation.change({ type: 'enabled', enabled: true });
    await node.federation.change({ type: 'route-add', domain: 'partner.net', target: '192.0.2.1' });
    await node.reset();
    expect(node.federation.settings()).toEqual(DEFAULT_FEDERATION);
  });
});
