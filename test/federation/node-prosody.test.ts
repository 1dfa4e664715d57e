import { copyFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CallBridge } from '../../src/bridge/call-bridge.js';
import { createResolver } from '../../src/dns/srv-lookup.js';
import { startNode, type RunningNode } from '../../src/process/node-process.js';
import { ensureLoopbackAddress } from '../helpers/bind-server.js';
import { nextEvent } from '../helpers/bridges.js';
import { startFederationDns, type FederationDns } from '../helpers/federation-dns.js';
import { withPeerLogs } from '../helpers/federation-exchange.js';
import { issueServerCertificate, makeFederationCa, type FederationCa } from '../helpers/federation-pki.js';
import { startProsody, type ProsodyServer } from '../helpers/prosody-server.js';
import { ScriptTerminal } from '../helpers/script-terminal.js';
import { LogCapture, tempDir } from '../helpers/test-node.js';

/**
 * A whole node federating: an operator sets federation up with the MMP
 * commands, a call bridge on our node (cb1.example.test) and a component on
 * a real Prosody (cb.other.test) exchange messages both ways over server
 * streams the node opened and accepted itself. Prosody finds us through a
 * real BIND; we find Prosody through the same BIND (no static route).
 */

const DNS = '127.0.9.1';
const OURS = { domain: 'example.test', address: '127.0.9.2' };
const PROSODY = { domain: 'other.test', address: '127.0.9.3' };
const SECRET = 'component-secret-node-prosody';

let dir: string;
let ca: FederationCa;
let dns: FederationDns;

beforeAll(async () => {
  await Promise.all([DNS, OURS.address, PROSODY.address].map(ensureLoopbackAddress));
  dir = await tempDir('federation-node-');
  ca = await makeFederationCa(dir);
  dns = await startFederationDns({
    address: DNS,
    entries: [OURS, { domain: `cb1.${OURS.domain}`, address: OURS.address }, PROSODY, { domain: `cb.${PROSODY.domain}`, address: PROSODY.address }],
  });
}, 60_000);

afterAll(async () => {
  await dns?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function mmp(node: RunningNode, line: string): Promise<string> {
  const result = await node.interpreter.run(line, new ScriptTerminal(), 'exec', 'admin');
  if (result.exitCode !== 0) throw new Error(`${line}: ${result.output}`);
  return result.output;
}

async function ourNode(log: LogCapture): Promise<{ node: RunningNode; cb1Secret: string }> {
  const dataDir = await tempDir('federation-node-data-');
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  const cert = await issueServerCertificate(ca, [OURS.domain, `cb1.${OURS.domain}`]);
  const running = await startNode({
    dataDir,
    name: 'cms1',
    address: OURS.address,
    componentPorts: [0, 0],
    log: log.logger,
    ssh: null,
    federation: { lookup: { resolver: createResolver({ servers: [`${dns.address}:${dns.port}`] }) } },
  });
  cleanups.push(() => running.close());
  await copyFile(cert.keyFile, join(running.node.certFolder, 'ours.key'));
  await copyFile(cert.certFile, join(running.node.certFolder, 'ours.crt'));
  await mmp(running, `xmpp domain ${OURS.domain}`);
  await mmp(running, 'xmpp listen a');
  await mmp(running, 'xmpp certs ours.key ours.crt');
  const added = await mmp(running, 'xmpp callbridge add cb1');
  const cb1Secret = /Secret: (\S+)/.exec(added)![1]!;
  await mmp(running, 'xmpp enable');
  await mmp(running, 'xmpp federation enable');
  await mmp(running, `xmpp federation allow add ${PROSODY.domain}`);
  await mmp(running, `xmpp federation allow add cb.${PROSODY.domain}`);
  return { node: running, cb1Secret };
}

function componentPort(node: RunningNode): number {
  const state = node.node.serviceState();
  if (state.state !== 'running') throw new Error(`the node is not running: ${JSON.stringify(state)}`);
  return state.bindings[0]!.port;
}

describe('a node federating with a real Prosody', () => {
  it('a call bridge and a Prosody component exchange messages both ways, dialback over TLS', async () => {
    const log = new LogCapture();
    const { node, cb1Secret } = await ourNode(log);
    const prosodyCert = await issueServerCertificate(ca, [PROSODY.domain, `cb.${PROSODY.domain}`]);
    // Prosody is given a CA of its own that does not name ours: TLS encrypts, dialback authenticates.
    const other = await makeFederationCa(await tempDir('federation-other-ca-'), 'Other CA');
    const prosody: ProsodyServer = await startProsody({
      ...PROSODY,
      components: [{ name: 'cb', secret: SECRET }],
      s2s: { requireEncryption: true, secureAuth: false, dialback: true, tls: { caFile: other.certFile, certFile: prosodyCert.certFile, keyFile: prosodyCert.keyFile } },
      dns,
    });
    cleanups.push(() => prosody.stop());
    const ours = await CallBridge.connect({ name: 'cb1', secret: cb1Secret, domain: OURS.domain, host: OURS.address, port: componentPort(node) });
    cleanups.push(() => ours.close());
    const theirs = await CallBridge.connect({ name: 'cb', secret: SECRET, domain: PROSODY.domain, host: PROSODY.address, port: prosody.componentPort });
    cleanups.push(() => theirs.close());
    await withPeerLogs([prosody, { domain: OURS.domain, log: () => log.raw.join('') }], async () => {
      const there = nextEvent(theirs, 'message', 30_000);
      await ours.sendMessage(`cb.${PROSODY.domain}`, 'hello prosody', 'out-1');
      expect(await there).toMatchObject({ from: `cb1.${OURS.domain}`, body: 'hello prosody', id: 'out-1' });
      const back = nextEvent(ours, 'message', 30_000);
      await theirs.sendMessage(`cb1.${OURS.domain}`, 'hello cms', 'in-1');
      expect(await back).toMatchObject({ from: `cb.${PROSODY.domain}`, body: 'hello cms', id: 'in-1' });
      const rows = await node.node.federation.survey();
      expect(rows.rows.map((r) => [r.direction, r.remoteDomain, r.auth, r.tls?.startsWith('TLS 1.')])).toEqual(
        expect.arrayContaining([
          ['outgoing', `cb.${PROSODY.domain}`, 'dialback', true],
          ['incoming', `cb.${PROSODY.domain}`, 'dialback', true],
        ]),
      );
    });
  }, 120_000);
});
