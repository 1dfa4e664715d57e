import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';

/**
 * A federation peer (Prosody, ejabberd) as a child process of the test: its
 * output captured, its log file readable, ready when the test's own check
 * says so (ports accepting, a log line), and stopped by SIGTERM, then SIGKILL
 * if it lingers. Shared by prosody-server.ts and ejabberd-server.ts.
 */

export interface PeerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** stdout and stderr so far. */
  output(): string;
  /** The peer's own log file so far ('' before it is written). */
  log(): string;
  /** Resolves with the exit code (or signal name) once the process is gone. */
  readonly exited: Promise<number | string | null>;
  stop(): Promise<void>;
}

export interface PeerSpawn {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  logFile: string;
}

export function spawnPeer(spec: PeerSpawn): PeerProcess {
  const child = spawn(spec.command, spec.args, { cwd: spec.cwd, env: spec.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | string | null>((resolve) => {
    // 'close', not 'exit': it comes once stdout and stderr are drained too, so output() is complete.
    child.on('close', (code, signal) => resolve(code ?? signal));
    child.on('error', (err) => {
      output += `\nspawn ${spec.command}: ${err.message}`;
      resolve(null);
    });
  });
  const log = () => {
    try {
      return readFileSync(spec.logFile, 'utf8');
    } catch {
      return '';
    }
  };
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return void (await exited);
    child.kill('SIGTERM');
    const slow = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 10_000).unref())]);
    if (slow) {
      child.kill('SIGKILL');
      await exited;
    }
  };
  return { child, pid: child.pid ?? -1, output: () => output, log, exited, stop };
}

/**
 * Waits until `ready()` holds, polling every 50 ms with a deadline (a peer
 * announces readiness only in its log, which has no event to wait on). A peer
 * that exits first, or never gets ready, fails with its output and log.
 */
export async function waitForPeer(peer: PeerProcess, name: string, ready: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone: number | string | null | undefined;
  void peer.exited.then((code) => (gone = code ?? 'unknown'));
  for (;;) {
    if (gone !== undefined) {
      // One last look: the check may name the reason (a port taken) better than "exited".
      await ready();
      throw new Error(`${name} exited (${gone}) before it was ready\n${describePeer(peer)}`);
    }
    if (await ready()) return;
    if (Date.now() > deadline) throw new Error(`${name} was not ready within ${timeoutMs} ms\n${describePeer(peer)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The peer's error lines first (Prosody's `\terror\t`, ejabberd's `[error]`
 * and `[critical]`: the reason is there, ahead of pages of debug lines), then
 * the tails of its output and log, for a failure message.
 */
export function describePeer(peer: PeerProcess, tailChars = 6000): string {
  const log = peer.log();
  const errors = log
    .split('\n')
    .filter((l) => /\terror\t|\[(error|critical)\]/.test(l))
    .slice(0, 20)
    .join('\n');
  return `--- errors in the log ---\n${errors}\n--- output (tail) ---\n${peer.output().slice(-tailChars)}\n--- log (tail) ---\n${log.slice(-tailChars)}`;
}

/** A port the peer could not bind: startProsody/startEjabberd retry with fresh free ports unless it is the fixed s2s port. */
export class PortTakenError extends Error {
  constructor(
    readonly port: number,
    details: string,
  ) {
    super(`port ${port} is taken\n${details}`);
    this.name = 'PortTakenError';
  }
}

/** True once something accepts TCP connections on address:port (the connection is closed at once). */
export function accepts(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: address, port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
    sock.setTimeout(1000, () => {
      sock.destroy();
      resolve(false);
    });
  });
}

/** A TCP port free on `address` right now (the peer binds it a moment later; callers retry on a clash). */
export function freeTcpPort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, address, () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
}

/** Polls `holds` (50 ms) until it is true or `timeoutMs` passes; for log lines a peer writes. */
export async function waitForLog(peer: PeerProcess, holds: (log: string) => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!holds(peer.log())) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms\n${describePeer(peer)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
