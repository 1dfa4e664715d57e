import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * A real BIND `named`, authoritative for one zone, on a loopback address and
 * a free port: what most sites run for their SRV records. Tests hand it zone
 * text (the deploy zone, or their own with SRV records pointing at test
 * nodes) and point a resolver at `server` (`setServers([server])`).
 */

const run = promisify(execFile);
const NAMED = '/usr/sbin/named';

export interface BindServer {
  readonly address: string;
  readonly port: number;
  /** `address:port`, as dns.Resolver#setServers and --dns take it. */
  readonly server: string;
  /** named's process id (benchmarks read its CPU time and pin it to a core). */
  readonly pid: number;
  /** What named wrote so far (it runs with -g: logs on stderr). */
  output(): string;
  /**
   * Serves new zone text, as an operator's `rndc reload` would (here: SIGHUP,
   * since the control channel is off); resolves once dig sees the new SOA
   * serial, so the text must raise it.
   */
  reload(zoneText: string): Promise<void>;
  stop(): Promise<void>;
}

export interface BindOptions {
  /** The zone's origin without the trailing dot: `example.test`. */
  origin: string;
  zoneText: string;
  /** A loopback address of this test's own range. */
  address: string;
  /**
   * A fixed port (53: for resolvers that cannot be given a port, such as
   * glibc's, which reads only `nameserver <ip>` from resolv.conf); by default
   * a free one.
   */
  port?: number;
  timeoutMs?: number;
}

export async function startBind(options: BindOptions): Promise<BindServer> {
  await ensureLoopbackAddress(options.address);
  const dir = await mkdtemp(join(tmpdir(), 'xmpp-cluster-named-'));
  let lastError: Error | undefined;
  // A free port can be taken between our probe and named's bind: try a few.
  for (let attempt = 0; attempt < (options.port ? 1 : 5); attempt++) {
    const port = options.port ?? (await freePort(options.address));
    try {
      return await startOn(options, dir, port);
    } catch (err) {
      lastError = err as Error;
      if (!/address in use/i.test(lastError.message)) break;
    }
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError!;
}

async function startOn(options: BindOptions, dir: string, port: number): Promise<BindServer> {
  const zoneFile = join(dir, `${options.origin}.zone`);
  const conf = join(dir, 'named.conf');
  await writeFile(zoneFile, options.zoneText);
  await writeFile(
    conf,
    `options {
  directory "${dir}";
  listen-on port ${port} { ${options.address}; };
  listen-on-v6 { none; };
  recursion no;
  pid-file "${dir}/named.pid";
  dnssec-validation no;
  // Never looks anything up itself: an authoritative server only.
  notify no;
};
controls { };
zone "${options.origin}" { type primary; file "${zoneFile}"; };
`,
  );
  const child = spawn(NAMED, ['-g', '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<'slow'>((r) => setTimeout(() => r('slow'), 5000).unref())]);
    if (code === 'slow') {
      child.kill('SIGKILL');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitForRunning(child, () => output, options.timeoutMs ?? 10_000);
    const listening = `${options.address}#${port}`;
    if (!output.includes(`listening on IPv4 interface`) || !output.includes(listening)) {
      throw new Error(`named is not listening on ${listening}`);
    }
    await waitForSoa(options.address, port, options.origin, options.timeoutMs ?? 10_000);
  } catch (err) {
    await stopChild(child, exited);
    throw new Error(`named did not start on ${options.address}:${port}: ${(err as Error).message}\n--- named stderr ---\n${output}`);
  }
  return {
    address: options.address,
    port,
    server: `${options.address}:${port}`,
    pid: child.pid!,
    output: () => output,
    reload: async (zoneText: string) => {
      const serial = soaSerial(zoneText, options.origin);
      await writeFile(zoneFile, zoneText);
      child.kill('SIGHUP');
      await waitForSoa(options.address, port, options.origin, options.timeoutMs ?? 10_000, serial);
    },
    stop,
  };
}

async function stopChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await exited;
}

/** named -g logs "running" once every zone is loaded and the listeners are open; it exits on a bad config or zone. */
function waitForRunning(child: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`no "running" within ${timeoutMs} ms`)), timeoutMs);
    const check = () => {
      if (/^\S+ \S+ running$/m.test(output())) finish();
      else if (/address in use/i.test(output())) finish(new Error('address in use'));
    };
    const onExit = (code: number | null) => finish(new Error(`named exited with code ${code}`));
    const finish = (err?: Error) => {
      clearTimeout(timer);
      child.stderr!.off('data', check);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve();
    };
    child.stderr!.on('data', check);
    child.once('exit', onExit);
    check();
  });
}

/** The real `dig`, until it gets the zone's SOA: then named answers queries. */
async function waitForSoa(address: string, port: number, origin: string, timeoutMs: number, serial?: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = await dig(address, port, [origin, 'SOA', '+short', '+time=1', '+tries=1']).catch((e: Error) => e.message);
    const m = /^\S+\.\s+\S+\.\s+(\d+)/m.exec(out);
    if (m && (serial === undefined || Number(m[1]) === serial)) return;
    if (Date.now() > deadline) throw new Error(`dig got no SOA${serial === undefined ? '' : ` with serial ${serial}`} for ${origin}: ${out}`);
    if (m) await new Promise((r) => setTimeout(r, 50));
  }
}

/** The serial of the zone text's SOA record (the first number after SOA's two names). */
function soaSerial(zoneText: string, origin: string): number {
  const m = /\bSOA\s+\S+\s+\S+\s+\(?\s*(\d+)/i.exec(zoneText);
  if (!m) throw new Error(`no SOA serial in the zone text for ${origin}`);
  return Number(m[1]);
}

/** Runs the real `dig @address -p port ...` and returns its standard output. */
export async function dig(address: string, port: number, args: string[]): Promise<string> {
  const { stdout } = await run('dig', [`@${address}`, '-p', String(port), ...args], { timeout: 10_000 });
  return stdout;
}

/** A port free for both TCP and UDP on `address` right now. */
async function freePort(address: string): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, address, () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const sock = createSocket('udp4');
      sock.once('error', () => resolve(false));
      sock.bind(port, address, () => sock.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
}

/**
 * named listens only on addresses its interface scan finds, and a fresh
 * machine's `lo` carries just 127.0.0.1/8 (the rest of 127/8 routes there
 * but is no interface address). So a test's own loopback address is added to
 * `lo` as a /32 (root: tests and CI run as root). It is left in place: it
 * changes no route (127/8 is local already), and another test's named may be
 * listening on it.
 */
export async function ensureLoopbackAddress(address: string): Promise<void> {
  const { stdout } = await run('ip', ['-4', '-o', 'addr', 'show', 'dev', 'lo']);
  if (new RegExp(`inet ${address.replace(/\./g, '\\.')}/`).test(stdout)) return;
  try {
    await run('ip', ['addr', 'add', `${address}/32`, 'dev', 'lo']);
  } catch (err) {
    // Another test added it at the same moment.
    if (!/File exists/.test(String((err as { stderr?: string }).stderr))) {
      throw new Error(`cannot add ${address} to lo for named (needs root): ${(err as Error).message}`);
    }
  }
}
