import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OperatorError } from '../base/operator-error.js';
import type { Terminal } from '../mmp/command.js';
import { ControlSocketError, runThroughControlSocket } from '../mmp/control-socket.js';
import { dataDirLayout } from '../node/data-dir.js';
import { DEFAULT_METRICS_PORT } from './http-endpoint.js';

/**
 * The demo's node processes: `xmpp-cluster node` children, one per address,
 * each logging to `<name>.log` beside its data directory, driven through
 * their control sockets with the very commands an operator types.
 */

const CLI = fileURLToPath(new URL('../cli.js', import.meta.url));

/** Answers the MMP's questions (a secret for add-secret) from a list. */
class Answers implements Terminal {
  constructor(private readonly answers: string[]) {}
  async prompt(): Promise<string | null> {
    return this.answers.shift() ?? null;
  }
}

export class DemoNode {
  child: ChildProcess | undefined;

  constructor(
    readonly name: string,
    readonly address: string,
    readonly dataDir: string,
    private readonly passwordFile: string,
  ) {}

  get logFile(): string {
    return `${this.dataDir}.log`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Each node's own metrics and health listener, on its own address. */
  get metricsUrl(): string {
    return `http://${this.address}:${DEFAULT_METRICS_PORT}`;
  }

  private get args(): string[] {
    return ['node', '--data-dir', this.dataDir, '--name', this.name, '--address', this.address, '--admin-password-file', this.passwordFile, '--metrics-listen', `${this.address}:${DEFAULT_METRICS_PORT}`];
  }

  get commandLine(): string {
    return `node dist/src/cli.js ${this.args.join(' ')}`;
  }

  start(): void {
    const log = openSync(this.logFile, 'a', 0o600);
    try {
      this.child = spawn(process.execPath, [CLI, ...this.args], {
        stdio: ['ignore', log, log],
      });
    } finally {
      closeSync(log);
    }
  }

  /** Runs one MMP command on the node; throws its Error line. Waits (bounded) for a node that is still starting. */
  run(line: string, answers: string[] = []): Promise<string> {
    return runOnStartingNode(this.dataDir, line, {
      answers,
      name: this.name,
      exited: () => (this.child && this.child.exitCode !== null ? `${this.name} exited (code ${this.child.exitCode}); see ${this.logFile}` : undefined),
    });
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }
}

/**
 * One MMP command through the control socket of the node in `dataDir`, as
 * an operator's `mmp` command runs it; while the node is still starting (no
 * socket yet, or nobody answering) it tries again for up to 30 s, unless
 * `exited` says why the node will never answer. A command's failure throws
 * its Error line, prefixed with the node's name.
 */
export async function runOnStartingNode(
  dataDir: string,
  line: string,
  options: { answers?: string[]; name: string; exited: () => string | undefined },
): Promise<string> {
  const socket = dataDirLayout(dataDir).controlSocket;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const result = await runThroughControlSocket(socket, line, new Answers([...(options.answers ?? [])]), 'exec');
      if (result.exitCode !== 0) throw new OperatorError(`${options.name}> ${line}: ${result.output.trim().replace(/^Error: /, '')}`);
      return result.output;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const starting = err instanceof ControlSocketError || code === 'ENOENT' || code === 'ECONNREFUSED';
      if (!starting || Date.now() > deadline) throw err;
      const exited = options.exited();
      if (exited) throw new OperatorError(exited);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export function demoNodes(root: string, addresses: string[], passwordFile: string): DemoNode[] {
  return addresses.map((address, i) => new DemoNode(`cb${i + 1}`, address, join(root, `cb${i + 1}`), passwordFile));
}
