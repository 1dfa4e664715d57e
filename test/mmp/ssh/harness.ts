import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../src/observability/logger.js';
import { Interpreter } from '../../../src/mmp/interpreter.js';
import { pkiCommands } from '../../../src/mmp/commands/pki.js';
import { userCommands } from '../../../src/mmp/commands/user.js';
import { UserStore } from '../../../src/mmp/users.js';
import { startMmpSshServer, type MmpSshServer, type MmpSshServerOptions } from '../../../src/mmp/ssh/server.js';

export const SSH = '/usr/bin/ssh';
export const SFTP = '/usr/bin/sftp';
export const SSHPASS = '/usr/bin/sshpass';
export const TMUX = '/usr/bin/tmux';

/** The real OpenSSH client is the point of these tests: missing binaries fail them, loudly. */
export function requireBinaries(...paths: string[]): void {
  for (const p of paths) if (!existsSync(p)) throw new Error(`${p} is missing: install openssh-client, sshpass and tmux to run the MMP SSH tests`);
}

export const ADMIN_PASSWORD = 'correct horse battery';

export interface TestNode {
  dataDir: string;
  certs: string;
  users: UserStore;
  server: MmpSshServer;
  logs: string[];
  stop(): Promise<void>;
}

/** A node's MMP door only: data directory, admin account, pki and user commands, SSH server on loopback. */
export async function startTestNode(overrides: Partial<MmpSshServerOptions> & { dataDir?: string; nodeName?: () => string } = {}): Promise<TestNode> {
  const dataDir = overrides.dataDir ?? (await mkdtemp(join(tmpdir(), 'mmp-ssh-')));
  const certs = join(dataDir, 'certs');
  const users = await UserStore.open(dataDir);
  await users.ensureInitialAdmin(ADMIN_PASSWORD);
  const logs: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void logs.push(line) } });
  const interpreter = new Interpreter([...pkiCommands({ certFolder: certs }), ...userCommands({ users })]);
  const server = await startMmpSshServer({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    interpreter,
    nodeName: () => 'cb1',
    logger,
    users,
    ...overrides,
  });
  return {
    dataDir,
    certs,
    users,
    server,
    logs,
    async stop() {
      await server.close();
      if (!overrides.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export function run(cmd: string, args: string[], options: { input?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 15_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
    // A child that never reads its input (tmux, a refused ssh) closes the pipe first.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/**
 * Client options: no config, no host-key prompts. `extra` comes first because
 * ssh keeps the first value it is given for an option.
 */
export function sshOptions(port: number, extra: string[] = []): string[] {
  return [
    ...extra,
    '-F', '/dev/null',
    '-o', 'StrictHostKeyChecking=no',
    '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'LogLevel=ERROR',
    '-o', 'ConnectTimeout=5',
    '-o', 'NumberOfPasswordPrompts=1',
    '-p', String(port),
  ];
}

export const PASSWORD_ONLY = ['-o', 'PubkeyAuthentication=no', '-o', 'PreferredAuthentications=password'];

/** `ssh admin@127.0.0.1 '<command>'` with a password given through sshpass (SSHPASS, never argv). */
export function sshExec(
  node: { server: { port: number } },
  command: string | undefined,
  options: { password?: string; user?: string; input?: string; bind?: string; extra?: string[] } = {},
): Promise<RunResult> {
  const args = [
    '-e',
    SSH,
    ...sshOptions(node.server.port, [...PASSWORD_ONLY, ...(options.bind ? ['-b', options.bind] : []), ...(options.extra ?? [])]),
    `${options.user ?? 'admin'}@127.0.0.1`,
    ...(command === undefined ? [] : [command]),
  ];
  return run(SSHPASS, args, { input: options.input, env: { SSHPASS: options.password ?? ADMIN_PASSWORD } });
}

/**
 * `sftp -b -` with a batch of commands; fails (non-zero) at the first command
 * that fails. -b turns on BatchMode (no password prompt) unless an earlier
 * option says otherwise: ssh keeps the first value it is given.
 */
export function sftpBatch(node: TestNode, batch: string, options: { password?: string } = {}): Promise<RunResult> {
  const args = ['-e', SFTP, ...sshOptions(node.server.port, [...PASSWORD_ONLY, '-o', 'BatchMode=no']).map((a) => (a === '-p' ? '-P' : a)), '-b', '-', 'admin@127.0.0.1'];
  return run(SSHPASS, args, { input: batch, env: { SSHPASS: options.password ?? ADMIN_PASSWORD } });
}
