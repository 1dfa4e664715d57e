import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The servers a benchmark compares, each a child process pinned to one core where taskset exists. */

export interface BenchServer {
  name: string;
  pid: number;
  port: number;
  /** Whether the clients must do an XEP-0114 handshake. */
  handshake: boolean;
  stop(): Promise<void>;
}

const HAS_TASKSET = spawnSync('taskset', ['--version']).status === 0;
export const PINNED = HAS_TASKSET;

/** Runs `argv` on core 0 when possible; the clients stay in this process on the other core. */
function pinned(argv: string[]): ChildProcess {
  const [cmd, ...args] = HAS_TASKSET ? ['taskset', '-c', '0', ...argv] : argv;
  return spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
}

function awaitReady(child: ChildProcess, name: string, pattern = /READY (\d+)/): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${out}`)), 15_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}: ${out}`)));
  });
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 3000).unref();
    });
}

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));

export async function startOurNode(secret: string, names: string[]): Promise<BenchServer> {
  const child = pinned([process.execPath, here('./node-server.js'), secret, ...names]);
  const port = await awaitReady(child, 'xmpp-cluster node');
  return { name: 'xmpp-cluster', pid: child.pid!, port, handshake: true, stop: stopper(child) };
}

export async function startRelay(): Promise<BenchServer> {
  const child = pinned([process.execPath, here('./relay-server.js')]);
  const port = await awaitReady(child, 'relay');
  return { name: 'TCP relay', pid: child.pid!, port, handshake: false, stop: stopper(child) };
}

export function prosodyInstalled(): boolean {
  return spawnSync('prosody', ['--help']).error === undefined && spawnSync('which', ['prosody']).status === 0;
}

/** Prosody with a generated config: two components, nothing else loaded, one port on loopback. */
export async function startProsody(secret: string, names: string[], port: number): Promise<BenchServer> {
  const dir = await mkdtemp(join(tmpdir(), 'xmpp-bench-prosody-'));
  const config = [
    `pidfile = "${dir}/prosody.pid"`,
    'daemonize = false',
    `data_path = "${dir}"`,
    `certificates = "${dir}"`,
    'log = { error = "*console" }',
    'modules_enabled = { }',
    'modules_disabled = { "c2s", "s2s", "offline", "saslauth", "tls", "posix" }',
    `component_ports = { ${port} }`,
    'component_interfaces = { "127.0.0.1" }',
    'VirtualHost "example.test"',
    ...names.flatMap((n) => [`Component "${n}.example.test"`, `  component_secret = "${secret}"`]),
    '',
  ].join('\n');
  const path = join(dir, 'prosody.cfg.lua');
  await writeFile(path, config);
  const child = pinned(['prosody', '--config', path]);
  await waitForPort(port, child);
  return { name: 'Prosody', pid: child.pid!, port, handshake: true, stop: stopper(child) };
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prosody exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ port, host: '127.0.0.1' }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error('prosody did not open its component port');
    await new Promise((r) => setTimeout(r, 100));
  }
}
