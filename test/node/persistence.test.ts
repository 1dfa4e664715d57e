import { readFile, stat, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { CallBridge } from '../../src/bridge/call-bridge.js';
import { CorruptFileError, OperatorError } from '../../src/base/operator-error.js';
import { dataDirLayout } from '../../src/node/data-dir.js';
import { XmppNode } from '../../src/node/xmpp-node.js';
import { LogCapture, startTestNode, tempDir } from '../helpers/test-node.js';

const open = (dataDir: string) => XmppNode.open({ dataDir, name: 'xmpp1', address: '127.0.0.1', componentPorts: [0, 0], log: new LogCapture().logger });

describe('the data directory', () => {
  it('keeps settings and call bridges across a restart, and serves again at once if it was enabled', async () => {
    const dataDir = await tempDir();
    const first = await startTestNode({ dataDir, callbridges: { cb1: 'persisted-secret-12345' } });
    const id = first.node.identity.id;
    await first.close();

    const again = await open(dataDir);
    expect(again.settings()).toMatchObject({ domain: 'example.test', listen: ['a'], enabled: true });
    expect(again.configuration().callbridge('cb1')?.secret).toBe('persisted-secret-12345');
    expect(again.identity.id).toBe(id);
    const st = again.serviceState();
    expect(st.state).toBe('running');
    const port = st.state === 'running' ? st.bindings[0]!.port : 0;
    const bridge = await CallBridge.connect({ name: 'cb1', secret: 'persisted-secret-12345', domain: 'example.test', host: '127.0.0.1', port });
    await bridge.close();
    await again.close();
  });

  it('writes secrets with mode 0600 inside a 0700 folder', async () => {
    const dataDir = await tempDir();
    const node = await open(dataDir);
    await node.setDomain('example.test');
    await node.addCallbridge('cb1', 'mode-check-secret-123');
    const layout = dataDirLayout(dataDir);
    for (const f of [layout.settings, layout.callbridges, layout.identity]) expect((await stat(f)).mode & 0o777).toBe(0o600);
    expect((await stat(layout.certs)).mode & 0o777).toBe(0o700);
    await node.close();
  });

  it.each([
    ['settings.json', 'settings', '{"version":1,"domain":'],
    ['callbridges.json', 'callbridges', '{"version":1,"callbridges":[{"name":"cb1"}]}'],
    ['identity.json', 'identity', '[]'],
  ] as const)('refuses to start on a corrupt %s, naming it, and leaves it as it was', async (_name, key, content) => {
    const dataDir = await tempDir();
    const node = await open(dataDir);
    await node.setDomain('example.test');
    await node.addCallbridge('cb1', 'some-secret-1234567890');
    await node.close();
    const path = dataDirLayout(dataDir)[key];
    await writeFile(path, content);
    const err = await open(dataDir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptFileError);
    expect((err as Error).message).toContain(path);
    expect(await readFile(path, 'utf8')).toBe(content);
  });

  it('lets one node at a time use a data directory', async () => {
    const dataDir = await tempDir();
    const node = await open(dataDir);
    const err = await open(dataDir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperatorError);
    await node.close();
    const next = await open(dataDir);
    await next.close();
  });

  it('takes over the lock of a node that died without releasing it', async () => {
    const dataDir = await tempDir();
    await writeFile(dataDirLayout(dataDir).lock, '999999\n');
    const node = await open(dataDir);
    await node.close();
  });
});
