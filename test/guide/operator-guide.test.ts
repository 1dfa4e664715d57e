import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SrvCallBridge } from '../../src/bridge/srv-call-bridge.js';
import type { ReceivedMessage } from '../../src/bridge/call-bridge.js';
import { ClusterNodeProcess, REFERENCE_PORTS, PROCESS_TEST_TIMEOUT_MS } from '../helpers/cluster-processes.js';
import { parseStatus } from '../helpers/cluster-setup.js';
import { Condition } from '../helpers/condition.js';
import { httpGet } from '../helpers/http-get.js';
import { tempDir } from '../helpers/test-node.js';
import { DIG } from '../dns/dig.js';
import { openssl } from '../pki/openssl.js';
import { GUIDE_HOSTS, GUIDE_NETWORK, RUNBOOK_HEADING, guideScript, matchOutput, type GuideStep } from './guide-transcript.js';

/**
 * README's operator's guide, run as written (test/guide/guide-transcript.ts
 * reads it): three real node processes started with the guide's command
 * line, each on its own address (127.0.18.11-13 for README's 192.0.2.11-13),
 * a site CA made with openssl on the "workstation" (a temporary folder),
 * each node's key and request made by `pki csr` on the node and fetched,
 * signed and uploaded back by real SFTP, then every MMP command of the guide
 * over the OpenSSH client, each answer checked against the lines README
 * shows. Then what the guide promises: the cluster formed, a call bridge
 * that finds a node by the nodes' own SRV answers connects and is routed,
 * and `/readyz` is 200 on each node.
 */

const NETWORK = '127.0.18.';
const FIRST_ADDRESS = 11;
const DOMAIN = 'example.com';
const execFileAsync = promisify(execFile);

/** README's address for ours. */
const local = (text: string) => text.replaceAll(GUIDE_NETWORK, NETWORK);

let root: string;
let workstation: string;
let script: GuideStep[];
let runbook: GuideStep[];
const nodes = new Map<string, ClusterNodeProcess>();
const captured: Record<string, string> = {};
let bridge: SrvCallBridge | undefined;

beforeAll(async () => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  script = guideScript(readme);
  runbook = guideScript(readme, RUNBOOK_HEADING);
  root = await tempDir('guide-');
  workstation = join(root, 'workstation');
  await execFileAsync('mkdir', ['-p', workstation]);
  for (const [i, host] of GUIDE_HOSTS.entries()) {
    nodes.set(host, await ClusterNodeProcess.create(root, i + 1, REFERENCE_PORTS, FIRST_ADDRESS, { network: NETWORK.slice(0, -1) }));
  }
}, 60_000);

afterAll(async () => {
  await bridge?.close().catch(() => undefined);
  await Promise.all([...nodes.values()].map((n) => n.kill('SIGKILL')));
});

function nodeNamed(host: string): ClusterNodeProcess {
  const n = nodes.get(host);
  if (!n) throw new Error(`guide: no host ${host}`);
  return n;
}

function nodeAt(address: string): ClusterNodeProcess {
  const n = [...nodes.values()].find((x) => x.address === local(address));
  if (!n) throw new Error(`guide: no host at ${address}`);
  return n;
}

function expectLines(what: string, expected: readonly string[], actual: string): void {
  const m = matchOutput(expected.map(local), actual);
  if (!m.ok) throw new Error(`guide: ${what}: README shows "${m.missing}", the answer was:\n${actual}`);
  Object.assign(captured, m.captured);
}

/**
 * The node's command line as README's systemd drop-in gives it; the data
 * directory and the password file are the test's own (the helper's, under
 * its temporary root), every other option README's.
 */
function nodeArgs(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--data-dir' || args[i] === '--admin-password-file') i++;
    else out.push(local(args[i]!));
  }
  return out;
}

/** Asks again until the answer is README's (bounded): readiness and the responder's liveness follow the cluster by a moment. */
async function settles(what: string, ask: () => Promise<string>, expected: readonly string[], sameSet = false): Promise<void> {
  const deadline = Date.now() + 15_000;
  const want = expected.map(local);
  for (;;) {
    const actual = await ask();
    const ok = sameSet ? JSON.stringify(actual.trim().split('\n').sort()) === JSON.stringify([...want].sort()) : matchOutput(want, actual).ok;
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`guide: ${what}: README shows\n${want.join('\n')}\nthe answer was:\n${actual}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function runStep(step: GuideStep): Promise<void> {
  switch (step.kind) {
    case 'start': {
      const n = nodeNamed(step.host);
      n.extraArgs = nodeArgs(step.args);
      await n.start();
      return;
    }
    case 'mmp': {
      const n = nodeNamed(step.host);
      const r = await n.ssh(local(step.command));
      if (r.code !== 0) throw new Error(`guide: ${step.host}> ${step.command}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
      if (step.expect.length === 0) expect({ command: step.command, out: r.stdout }).toEqual({ command: step.command, out: '' });
      else expectLines(`${step.host}> ${step.command}`, step.expect, r.stdout);
      return;
    }
    case 'sftp': {
      const r = await nodeAt(step.address).sftp([`lcd ${workstation}`, ...step.batch].join('\n') + '\n');
      if (r.code !== 0) throw new Error(`guide: sftp to ${step.address}: ${step.batch.join('; ')}: exit ${r.code}: ${r.stderr}`);
      return;
    }
    case 'shell': {
      const [program, ...args] = step.argv.map(local);
      if (program === 'openssl') {
        const r = await openssl(args, { cwd: workstation });
        if (step.expect.length) expectLines(`$ ${step.argv.join(' ')}`, step.expect, r.stdout);
        return;
      }
      if (program === 'dig') {
        const ask = async () => (await execFileAsync(DIG, [...args, '+time=2', '+tries=2'], { timeout: 15_000 })).stdout;
        return settles(`$ ${step.argv.join(' ')}`, ask, step.expect, true);
      }
      if (program === 'curl') {
        const url = args.find((a) => a.startsWith('http://'));
        if (!url) throw new Error(`guide: $ ${step.argv.join(' ')}: no URL`);
        return settles(`$ ${step.argv.join(' ')}`, async () => (await httpGet(url)).body, step.expect);
      }
      throw new Error(`guide: the test cannot run "$ ${step.argv.join(' ')}"; give it a step kind or take it out of the marked blocks`);
    }
  }
}

describe("README's operator's guide, run word for word on three hosts", { timeout: PROCESS_TEST_TIMEOUT_MS * 2 }, () => {
  it('reads as a script that starts three nodes and types commands into each', () => {
    const kinds = new Set(script.map((s) => s.kind));
    expect([...kinds].sort()).toEqual(['mmp', 'sftp', 'shell', 'start']);
    expect(script.filter((s) => s.kind === 'start').map((s) => s.kind === 'start' && s.host)).toEqual([...GUIDE_HOSTS]);
    for (const host of GUIDE_HOSTS) expect(script.some((s) => s.kind === 'mmp' && s.host === host && s.command === 'xmpp cluster enable')).toBe(true);
  });

  it('runs every step of the guide, each answering as README shows', async () => {
    for (const step of script) await runStep(step);
    expect(captured.secret).toMatch(/^[A-Za-z0-9]{20}$/);
  });

  it('leaves a cluster of three with one leader that every node names', async () => {
    const statuses = await Promise.all([...nodes.values()].map(async (n) => parseStatus((await n.ssh('xmpp cluster status')).stdout)));
    const addresses = [...nodes.values()].map((n) => `${n.address}:5222`).sort();
    for (const s of statuses) {
      expect(s.peers).toEqual(addresses);
      expect(s.text.match(/\(Leader\)/g)).toHaveLength(1);
      expect(s.text).not.toContain('Warning');
    }
    expect(new Set(statuses.map((s) => s.leader)).size).toBe(1);
    expect(statuses.filter((s) => s.state === 'LEADER')).toHaveLength(1);
  });

  it('lets call bridge cb1 find a node by the nodes’ SRV answers and routes a message back to it through the cluster', async () => {
    const arrived: ReceivedMessage[] = [];
    const got = new Condition();
    bridge = SrvCallBridge.start({ name: 'cb1', secret: captured.secret!, domain: DOMAIN, dnsServers: [`${NETWORK}${FIRST_ADDRESS + 1}:53`] });
    bridge.on('message', (m: ReceivedMessage) => {
      arrived.push(m);
      got.changed();
    });
    const at = await bridge.waitConnected(20_000);
    expect([...nodes.values()].map((n) => n.address)).toContain(at.address);
    await bridge.sendMessage(`cb1.${DOMAIN}`, 'hello through the cluster');
    await got.until(() => arrived.length > 0, 20_000, () => 'the message cb1 sent itself never came back');
    expect(arrived[0]).toMatchObject({ from: `cb1.${DOMAIN}`, body: 'hello through the cluster' });
    const status = (await nodeNamed('xmpp1').ssh('xmpp status')).stdout;
    expect(status).toMatch(/^cb1\.example\.com +127\.0\.18\.\d+:\d+ +xmpp[123] /m);
  });

  it('answers /readyz with 200 on every node', async () => {
    for (const n of nodes.values()) {
      const r = await httpGet(`http://${n.address}:9464/readyz`);
      expect({ node: n.address, status: r.status, body: r.body.trim() }).toEqual({ node: n.address, status: 200, body: 'ok' });
    }
  });

  it("renews xmpp1's certificate as the runbook says, and a new handshake on its cluster port gets the new one", async () => {
    expect(runbook.some((s) => s.kind === 'mmp' && s.command.startsWith('xmpp certs '))).toBe(true);
    for (const step of runbook) await runStep(step);
    const renewed = new X509Certificate(await readFile(join(workstation, 'xmpp1-2027.cer'))).fingerprint256;
    const xmpp1 = nodeNamed('xmpp1');
    const deadline = Date.now() + 10_000;
    let presented = '';
    while (presented !== renewed && Date.now() < deadline) {
      presented = await clusterPortCertificate(xmpp1.address);
      if (presented !== renewed) await new Promise((r) => setTimeout(r, 100));
    }
    expect(presented).toBe(renewed);
    const status = (await xmpp1.ssh('xmpp cluster status')).stdout;
    expect(status).toMatch(/^Certificate file   : xmpp1-2027\.cer$/m);
    expect(parseStatus(status).peers).toHaveLength(3);
  });
});

/** The certificate a new TLS handshake on the node's cluster port (5999) presents: its SHA-256 fingerprint, as node:crypto prints it. */
function clusterPortCertificate(host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // No client certificate: the member refuses the link after the handshake, but its certificate has been sent by then.
    const socket = connect({ host, port: 5999, rejectUnauthorized: false, minVersion: 'TLSv1.3' }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.destroy();
      resolve(fingerprint);
    });
    socket.setTimeout(5000, () => socket.destroy(new Error(`no TLS handshake with ${host}:5999 in 5 s`)));
    socket.on('error', reject);
  });
}
