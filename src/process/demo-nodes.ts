import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OperatorError } from '../base/operator-error.js';
import type { Terminal } from '../mmp/command.js';
import { ControlSocketError, runThroughControlSocket } from '../mmp/control-socket.js';
import { dataDirLayout } from '../node/data-dir.js';

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

  get commandLine(): string {
    return `node dist/src/cli.js node --data-dir ${this.dataDir} --name ${this.name} --address ${this.address} --admin-password-file ${this.passwordFile}`;
  }

  start(): void {
    const log = openSync(this.logFile, 'a', 0o600);
    try {
      this.child = spawn(process.execPath, [CLI, 'node', '--data-dir', this.dataDir, '--name', this.name, '--address', this.address, '--admin-password-file', this.passwordFile], {
        stdio: ['ignore', log, log],
      });
    } finally {
      closeSync(log);
    }
  }

  /** Runs one MMP command on the node; throws its Error line. Waits (bounded) for a node that is still starting. */
  async run(line: string, answers: string[] = []): Promise<string> {
    const socket = dataDirLayout(this.dataDir).controlSocket;
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const result = await runThroughControlSocket(socket, line, new Answers(answers), 'exec');
        if (result.exitCode !== 0) throw new OperatorError(`${this.name}> ${line}: ${result.output.trim().replace(/^Error: /, '')}`);
        return result.output;
      } catch (err) {
        const starting = err instanceof ControlSocketError || (err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ECONNREFUSED';
        if (!starting || Date.now() > deadline) throw err;
        if (this.child && this.child.exitCode !== null) throw new OperatorError(`${this.name} exited (code ${this.child.exitCode}); see ${this.logFile}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
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

export function demoNodes(root: string, addresses: string[], passwordFile: string): DemoNode[] {
  return addresses.map((address, i) => new DemoNode(`cb${i + 1}`, address, join(root, `cb${i + 1}`), passwordFile));
}
