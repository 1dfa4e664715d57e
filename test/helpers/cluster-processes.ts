import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CliProcess, assertBuilt } from './cli.js';
import { tempDir } from './test-node.js';
import { ensureLoopbackAddress } from './bind-server.js';
import { PASSWORD_ONLY, SFTP, SSH, SSHPASS, requireBinaries, run, sshOptions, type RunResult } from '../mmp/ssh/harness.js';

/**
 * Real node processes for the cluster tests, as an operator runs them:
 * `xmpp-cluster node --data-dir D --name cbN --address 127.0.0.N`, reached by
 * the OpenSSH client and SFTP on their own addresses. Each node keeps the
 * reference's ports (5222, 5223, SSH 2222, cluster 5999) on its own loopback
 * address unless a test asks for others.
 */

/**
 * A test that types a dozen commands over ssh into node processes and waits
 * for joins and elections takes a few seconds on a quiet machine and several
 * times that on a loaded one (CI keeps a core busy): bounded, but not by the
 * suite's 30 s default.
 */
export const PROCESS_TEST_TIMEOUT_MS = 120_000;

export const CLUSTER_ADMIN_PASSWORD = 'cluster admin password';

export interface ClusterNodePorts {
  component: [number, number];
  ssh: number;
  cluster: number;
  /** Where the cluster link really listens, when a test's proxy sits on `cluster` (--cluster-listen-port). */
  clusterListen?: number;
}

/** Every node process a test started, so that none outlives the test run whatever failed. */
const started = new Set<CliProcess>();
process.on('exit', () => {
  for (const p of started) if (p.child.exitCode === null) p.child.kill('SIGKILL');
});

export const REFERENCE_PORTS: ClusterNodePorts = { component: [5222, 5223], ssh: 2222, cluster: 5999 };

/** What a test file adds to the defaults: its own /24 (`network`, default 127.0.0) and options the node command takes (--federation-dns ...). */
export interface ClusterNodeExtras {
  network?: string;
  args?: readonly string[];
}

export class ClusterNodeProcess {
  process: CliProcess | undefined;
  /** More `xmpp-cluster node` options for the next start (--shutdown-timeout 5). */
  extraArgs: string[] = [];

  private constructor(
    readonly index: number,
    readonly name: string,
    readonly address: string,
    readonly dataDir: string,
    readonly ports: ClusterNodePorts,
    private readonly passwordFile: string,
    private readonly args: readonly string[] = [],
  ) {}

  /**
   * Node N of a test cluster: name cbN, address 127.0.0.(firstAddress + N - 1),
   * its own data directory under `root`. Test files that run at the same time
   * use different address ranges (see clusterProcesses).
   */
  static async create(root: string, index: number, ports: ClusterNodePorts = REFERENCE_PORTS, firstAddress = 1, extras: ClusterNodeExtras = {}): Promise<ClusterNodeProcess> {
    assertBuilt();
    requireBinaries(SSH, SFTP, SSHPASS);
    const passwordFile = join(root, 'admin-password');
    await writeFile(passwordFile, `${CLUSTER_ADMIN_PASSWORD}\n`, { mode: 0o600 });
    const network = extras.network ?? '127.0.0';
    const address = `${network}.${firstAddress + index - 1}`;
    if (network !== '127.0.0') await ensureLoopbackAddress(address);
    return new ClusterNodeProcess(index, `cb${index}`, address, join(root, `cb${index}`), ports, passwordFile, extras.args);
  }

  /** Starts the process and waits until its SSH door answers (the `node_started` log line). */
  async start(): Promise<void> {
    if (this.process && this.process.child.exitCode === null && this.process.child.signalCode === null) throw new Error(`${this.name} is already running (pid ${this.pid})`);
    const p = new CliProcess([
      'node',
      '--data-dir', this.dataDir,
      '--name', this.name,
      '--address', this.address,
      '--component-ports', this.ports.component.join(','),
      '--ssh-port', String(this.ports.ssh),
      '--cluster-port', String(this.ports.cluster),
      ...(this.ports.clusterListen === undefined ? [] : ['--cluster-listen-port', String(this.ports.clusterListen)]),
      '--admin-password-file', this.passwordFile,
      // Each node's metrics on its own address, so parallel test files never contend for 127.0.0.1:9464.
      '--metrics-listen', `${this.address}:9464`,
      ...this.args,
      ...this.extraArgs,
    ]);
    this.process = p;
    started.add(p);
    await p.waitForOutput(/"event":"node_started"/, 20_000, 'stderr');
  }

  get pid(): number {
    return this.process!.child.pid!;
  }

  /** `kill -9`: no goodbye, sockets reset by the kernel. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.process;
    if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
    p.child.kill(signal);
    if (signal === 'SIGKILL' || signal === 'SIGTERM') await p.exited;
  }

  async stop(): Promise<void> {
    await this.process?.stop('SIGTERM');
  }

  /** One MMP command over `ssh admin@127.0.0.N '<command>'`, `input` on its standard input. */
  ssh(command: string, input?: string): Promise<RunResult> {
    return run(SSHPASS, ['-e', SSH, ...sshOptions(this.ports.ssh, PASSWORD_ONLY), `admin@${this.address}`, command], {
      input,
      env: { SSHPASS: CLUSTER_ADMIN_PASSWORD },
      timeoutMs: 60_000,
    });
  }

  /** `sftp -b -` into the node's certificate folder. */
  sftp(batch: string): Promise<RunResult> {
    const options = sshOptions(this.ports.ssh, [...PASSWORD_ONLY, '-o', 'BatchMode=no']).map((a) => (a === '-p' ? '-P' : a));
    return run(SSHPASS, ['-e', SFTP, ...options, '-b', '-', `admin@${this.address}`], { input: batch, env: { SSHPASS: CLUSTER_ADMIN_PASSWORD } });
  }

  /** The node's log so far (pino JSON lines on standard error). */
  get log(): string {
    return this.process?.stderr ?? '';
  }
}

/**
 * N node processes under one temporary root, on 127.0.0.(firstAddress...).
 * Address ranges of the test files, which vitest may run at the same time:
 * 1-3 the acceptance story, 4-6 the npm start demo (test/cli/demo.test.ts),
 * 7-9 fault injection, 10-13 membership refusals, 14-16 the benchmark;
 * `subnet` puts them in another /24 of 127/8 (added to lo), e.g. 127.0.16.x.
 */
export async function clusterProcesses(
  count: number,
  options: { ports?: ClusterNodePorts; firstAddress?: number } & ClusterNodeExtras = {},
): Promise<{ root: string; nodes: ClusterNodeProcess[] }> {
  const root = await tempDir('cluster-');
  const nodes: ClusterNodeProcess[] = [];
  for (let i = 1; i <= count; i++) nodes.push(await ClusterNodeProcess.create(root, i, options.ports ?? REFERENCE_PORTS, options.firstAddress ?? 1, options));
  return { root, nodes };
}

/** Fails with the command, its exit status and both streams when it did not succeed. */
export async function expectOk(node: ClusterNodeProcess, command: string, input?: string): Promise<string> {
  const r = await node.ssh(command, input);
  if (r.code !== 0) throw new Error(`${node.name}> ${command}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}
