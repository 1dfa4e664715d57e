import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dataDirLayout } from '../../src/node/data-dir.js';
import { runOnStartingNode } from '../../src/process/demo-nodes.js';
import { issueServerCertificate } from '../helpers/federation-pki.js';
import { freeTcpPort } from '../helpers/peer-process.js';
import type { FederationLab } from './federation-prosody-pair.js';

/**
 * Our node for the federation benchmark: an `xmpp-cluster node` process
 * (so its CPU is read apart from the clients' and Prosody's), s2s on 5269
 * of its own loopback address, peers found through the lab's BIND
 * (`--federation-dns`), set up by the operator's MMP commands through its
 * control socket, as test/federation/node-prosody.test.ts does in process.
 * One call bridge, `cb`, so its address `cb.<domain>` is what the lab's DNS
 * already names. No CA bundle: it verifies no peer, so dialback
 * authenticates every stream it opens (TLS still encrypts).
 */

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

export interface FederationBenchNode {
  readonly domain: string;
  readonly address: string;
  readonly pid: number;
  readonly componentPort: number;
  /** The node's JSON log lines so far (stderr). */
  log(): string;
  mmp(line: string, answers?: string[]): Promise<string>;
  stop(): Promise<void>;
}

export async function startFederationNode(lab: FederationLab, o: { domain: string; address: string; secret: string; allow: string[] }): Promise<FederationBenchNode> {
  const dataDir = join(lab.dir, `node-${o.domain}`);
  const logFile = `${dataDir}.log`;
  const componentPort = await freeTcpPort(o.address);
  const clusterPort = await freeTcpPort(o.address);
  const args = [
    'node',
    '--data-dir', dataDir,
    '--name', 'cms1',
    '--address', o.address,
    '--component-ports', String(componentPort),
    '--cluster-port', String(clusterPort),
    '--no-ssh',
    '--federation-dns', `${lab.dns.address}:${lab.dns.port}`,
  ];
  // BENCH_CPU_PROF=<dir>: a V8 CPU profile of the node, written when it stops.
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF, '--cpu-prof-name', `federation-node-${Date.now()}.cpuprofile`] : [];
  const fd = openSync(logFile, 'a', 0o600);
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [...prof, CLI, ...args], { stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  live.add(child);
  const log = () => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  const running = () => child.exitCode === null && child.signalCode === null;
  const mmp = (line: string, answers: string[] = []) =>
    runOnStartingNode(dataDir, line, { answers, name: 'cms1', exited: () => (running() ? undefined : `our node exited; log tail:\n${log().slice(-3000)}`) });
  const stop = async () => {
    if (!running()) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  };
  try {
    await mmp('pki list'); // the node has created its data directory
    const cert = await issueServerCertificate(lab.ca, [o.domain, `cb.${o.domain}`]);
    copyFileSync(cert.keyFile, join(dataDirLayout(dataDir).certs, 'ours.key'));
    copyFileSync(cert.certFile, join(dataDirLayout(dataDir).certs, 'ours.crt'));
    for (const line of [`xmpp domain ${o.domain}`, 'xmpp listen a', 'xmpp certs ours.key ours.crt']) await mmp(line);
    await mmp('xmpp callbridge add-secret cb', [o.secret]);
    for (const line of ['xmpp enable', 'xmpp federation enable', ...o.allow.map((d) => `xmpp federation allow add ${d}`)]) await mmp(line);
    // The wiring applies settings on its own tick: certificates loaded and the listener up, or a first stanza would find no TLS yet.
    const deadline = Date.now() + 15_000;
    while (!/"module":"XMPPFederation".*"event":"listening"/.test(log())) {
      if (!running() || Date.now() > deadline) throw new Error(`our node's federation listener did not start; log tail:\n${log().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { domain: o.domain, address: o.address, pid: child.pid!, componentPort, log, mmp, stop };
}
