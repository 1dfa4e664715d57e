import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The built CLI, as an operator runs it; `npm test` builds it first. */
export const CLI = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));

export function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does it first)`);
}

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * A `node` command without a metrics option gets `--no-metrics`: the default
 * listener is 127.0.0.1:9464, which test files running at the same time (and
 * the three-node acceptance test's cb1) would contend for. Tests of the
 * listener say where it goes.
 */
function ownArgs(args: string[]): string[] {
  if (args[0] !== 'node' || args.includes('--no-metrics') || args.includes('--metrics-listen')) return args;
  return [...args, '--no-metrics'];
}

/** Runs the CLI to its end, feeding `input` on stdin; kills it after `timeoutMs`. */
export function runCli(args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...ownArgs(args)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`xmpp-cluster ${args.join(' ')} did not finish; stdout: ${stdout} stderr: ${stderr}`));
    }, options.timeoutMs ?? 15_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** A long-running CLI process whose output can be awaited. */
export class CliProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  readonly child: ChildProcess;
  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [CLI, ...ownArgs(args)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    this.child.stdout!.on('data', (d) => (this.stdout += d));
    this.child.stderr!.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }
  async waitForOutput(pattern: RegExp, timeoutMs = 15_000, stream: 'stdout' | 'stderr' = 'stdout'): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = pattern.exec(this[stream]);
      if (m) return m;
      if (Date.now() > deadline || this.child.exitCode !== null) throw new Error(`no ${pattern} in output; stdout: ${this.stdout} stderr: ${this.stderr.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill(signal);
    return this.exited;
  }
}
