#!/usr/bin/env node
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Resolver } from 'node:dns/promises';
import { pino } from 'pino';
import { createResolver, parseDnsServer } from './dns/srv-lookup.js';
import { runBridgeCommand } from './bridge/bridge-command.js';
import { runMmpCommand } from './process/mmp-command.js';
import { runBackupCommand, runRestoreCommand } from './process/backup-command.js';
import { runDemo } from './process/demo.js';
import { createLogger, stderrDestination, type Logger } from './observability/logger.js';
import { DEFAULT_SSH_PORT, startNode, type MetricsListenOptions } from './process/node-process.js';
import { DEFAULT_METRICS_PORT } from './process/http-endpoint.js';
import type { StatusPageAccess } from './process/status-page/status-page.js';
import { readPasswordFile } from './mmp/users.js';
import { DEFAULT_COMPONENT_PORTS } from './node/xmpp-node.js';
import { DEFAULT_CLUSTER_PORT } from './node/cluster-control.js';
import { CorruptFileError, OperatorError } from './base/operator-error.js';
import { NewerFormatError } from './base/format-version.js';
import { exitAfterLog, exitOnSecondSignal, untilSignal } from './process/signals.js';
import { DEFAULT_SHUTDOWN_TIMEOUT_MS } from './process/shutdown.js';

/**
 * xmpp-cluster <command>:
 *   start   the demo: one node on 127.0.0.1, domain example.test, two call bridges
 *   node    run one node on a data directory
 *   mmp     run MMP commands on a node (its control socket, or its data directory when it is stopped)
 *   bridge  a simulated call bridge (XEP-0114 component, xmpp.js)
 *   backup  a running node's settings, keys and applied cluster state, into one file
 *   restore a new data directory from a backup: a standalone node, or a one-member cluster
 */

const USAGE = `usage: xmpp-cluster <command> [options]

  start   [--data-dir D]                          the demo node (npm start)
  node    --data-dir D [--name N] [--address A] [--iface b=ADDR ...]
          [--component-ports 5222,5223] [--ssh-port 2222 | --no-ssh]
          [--cluster-port 5999] [--admin-password-file F]
          [--s2s-port 5269] [--federation-dns ADDR[:PORT]]
          [--metrics-listen 127.0.0.1:9464 | --no-metrics]
          [--shutdown-timeout 10] [--status-page login|loopback|off]
                                                  run one node (first start: the admin
                                                  password from F or XMPP_CLUSTER_ADMIN_PASSWORD);
                                                  /metrics, /healthz, /readyz over HTTP and
                                                  the status page at / (admin login);
                                                  SIGTERM: a graceful shutdown of at most
                                                  --shutdown-timeout seconds
  mmp     --data-dir D [--wait 15] ['<command>']  run MMP commands (interactive without a command);
                                                  waits up to --wait seconds for a node that is starting
  bridge  --name cb1 --secret S --domain D --server HOST:PORT
          [--echo] [--send JID --count N --body TEXT] [--expect N] [--bare-name]
                                                  a simulated call bridge
  bridge  --name cb1 --secret S --domain D --srv DOMAIN [--dns ADDR[:PORT]]
          [--connect-timeout 2] [same options]    the same, finding the nodes by
                                                  _xmpp-component._tcp.DOMAIN SRV and
                                                  moving to the next when its node goes
  backup  --data-dir D --out FILE                 a running node's backup (mode 0600; it holds
                                                  every key and secret of the node)
  restore --data-dir NEW --from FILE [--name N] [--address A]
                                                  seeds NEW from a backup: a standalone node, or a
                                                  one-member cluster (A: where it will run)
`;

export interface NodeCliOptions {
  dataDir: string;
  name: string;
  address: string;
  interfaces: Record<string, string>;
  componentPorts: number[];
  ssh: { host: string; port: number } | null;
  /** The cluster port peer links use, on the node's address. */
  clusterPort: number;
  /** Test-oriented (--cluster-listen-port): listen there while advertising clusterPort, for a proxy in front. */
  clusterListenPort?: number;
  adminPasswordFile?: string;
  /** --s2s-port and --federation-dns: where federation listens and which DNS server finds peers. */
  federation?: { port?: number; lookup?: { resolver: Resolver } };
  /** /metrics, /healthz and /readyz; null with --no-metrics. The default one is optional: a port taken is logged, not fatal. */
  metrics: MetricsListenOptions | null;
  /** --shutdown-timeout (seconds): how long SIGTERM's graceful shutdown may take before the process exits anyway. */
  shutdownTimeoutMs: number;
  /** The status page at / of the metrics listener: admin login (default), loopback clients only, or none (--status-page off). */
  statusPage: StatusPageAccess | null;
}

function stderrLogger(name?: string): Logger {
  return createLogger({ node: name, destination: stderrDestination() });
}

export function parseNodeOptions(argv: string[]): NodeCliOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      'data-dir': { type: 'string' },
      name: { type: 'string' },
      address: { type: 'string' },
      iface: { type: 'string', multiple: true },
      'component-ports': { type: 'string' },
      'ssh-port': { type: 'string' },
      'cluster-port': { type: 'string' },
      'cluster-listen-port': { type: 'string' },
      'no-ssh': { type: 'boolean', default: false },
      'admin-password-file': { type: 'string' },
      's2s-port': { type: 'string' },
      'federation-dns': { type: 'string' },
      'metrics-listen': { type: 'string' },
      'no-metrics': { type: 'boolean', default: false },
      'shutdown-timeout': { type: 'string' },
      'status-page': { type: 'string' },
    },
    strict: true,
  });
  if (!values['data-dir']) throw new OperatorError('--data-dir is required');
  const interfaces: Record<string, string> = {};
  for (const spec of values.iface ?? []) {
    const m = /^([a-d])=(.+)$/.exec(spec);
    if (!m) throw new OperatorError(`--iface ${spec}: expected a letter a-d, '=', an address (--iface b=10.0.0.2)`);
    interfaces[m[1]!] = m[2]!;
  }
  const ports = values['component-ports'] ? values['component-ports'].split(',').map((p) => Number(p)) : DEFAULT_COMPONENT_PORTS;
  if (ports.some((p) => !Number.isInteger(p) || p < 0 || p > 65535)) throw new OperatorError(`--component-ports ${values['component-ports']}: expected ports such as 5222,5223`);
  const address = values.address ?? interfaces.a ?? '127.0.0.1';
  const sshPort = Number(values['ssh-port'] ?? DEFAULT_SSH_PORT);
  if (!Number.isInteger(sshPort) || sshPort < 0 || sshPort > 65535) throw new OperatorError(`--ssh-port ${values['ssh-port']}: expected a port such as 2222`);
  const clusterPort = Number(values['cluster-port'] ?? DEFAULT_CLUSTER_PORT);
  if (!Number.isInteger(clusterPort) || clusterPort < 1 || clusterPort > 65535) throw new OperatorError(`--cluster-port ${values['cluster-port']}: expected a port such as 5999`);
  const clusterListenPort = values['cluster-listen-port'] === undefined ? undefined : Number(values['cluster-listen-port']);
  if (clusterListenPort !== undefined && (!Number.isInteger(clusterListenPort) || clusterListenPort < 1 || clusterListenPort > 65535)) {
    throw new OperatorError(`--cluster-listen-port ${values['cluster-listen-port']}: expected a port such as 6999`);
  }
  const s2sPort = values['s2s-port'] === undefined ? undefined : Number(values['s2s-port']);
  if (s2sPort !== undefined && (!Number.isInteger(s2sPort) || s2sPort < 1 || s2sPort > 65535)) throw new OperatorError(`--s2s-port ${values['s2s-port']}: expected a port such as 5269`);
  const shutdownSeconds = values['shutdown-timeout'] === undefined ? DEFAULT_SHUTDOWN_TIMEOUT_MS / 1000 : Number(values['shutdown-timeout']);
  if (!Number.isFinite(shutdownSeconds) || shutdownSeconds <= 0 || shutdownSeconds > 3600) {
    throw new OperatorError(`--shutdown-timeout ${values['shutdown-timeout']}: expected seconds such as 10`);
  }
  const dns = values['federation-dns'];
  const federation = {
    ...(s2sPort === undefined ? {} : { port: s2sPort }),
    ...(dns === undefined ? {} : { lookup: { resolver: createResolver({ servers: [federationDns(dns)] }) } }),
  };
  if (values['no-metrics'] && values['metrics-listen'] !== undefined) throw new OperatorError('--metrics-listen and --no-metrics: give one of them');
  const metrics = values['no-metrics']
    ? null
    : values['metrics-listen'] === undefined
      ? { host: '127.0.0.1', port: DEFAULT_METRICS_PORT, optional: true }
      : parseListen(values['metrics-listen'], '--metrics-listen');
  const statusPage = values['status-page'] ?? 'login';
  if (statusPage !== 'login' && statusPage !== 'loopback' && statusPage !== 'off') throw new OperatorError(`--status-page ${statusPage}: expected login, loopback or off`);
  return {
    dataDir: resolve(values['data-dir']),
    metrics,
    ...(Object.keys(federation).length > 0 ? { federation } : {}),
    statusPage: statusPage === 'off' ? null : statusPage,
    clusterPort,
    ...(clusterListenPort === undefined ? {} : { clusterListenPort }),
    name: values.name ?? 'xmpp1',
    address,
    interfaces,
    componentPorts: ports,
    ssh: values['no-ssh'] ? null : { host: address, port: sshPort },
    adminPasswordFile: values['admin-password-file'],
    shutdownTimeoutMs: Math.round(shutdownSeconds * 1000),
  };
}

/** `--federation-dns`: the DNS server that finds federated peers, in the words of that option. */
function federationDns(text: string): string {
  try {
    return parseDnsServer(text);
  } catch {
    throw new OperatorError(`--federation-dns ${text}: expected an IP address with an optional port (127.0.0.1:5300, [::1]:53)`);
  }
}

/** `host:port` or `[v6]:port`. */
function parseListen(spec: string, option: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d+)$/.exec(spec);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) throw new OperatorError(`${option} ${spec}: expected <address>:<port>, such as 127.0.0.1:9464`);
  return { host: m[1] ?? m[2]!, port };
}

async function runNodeCommand(argv: string[]): Promise<number> {
  const opts = parseNodeOptions(argv);
  const log = stderrLogger(opts.name);
  const adminPassword = opts.adminPasswordFile ? await readPasswordFile(opts.adminPasswordFile) : process.env.XMPP_CLUSTER_ADMIN_PASSWORD;
  const running = await startNode({ ...opts, log, adminPassword });
  const signal = await untilSignal();
  log.info({ module: 'process', event: 'signal', signal }, `${signal}: shutting down gracefully`);
  exitOnSecondSignal(log);
  await running.shutdown(opts.shutdownTimeoutMs);
  // Exit now, finished or not: whatever the shutdown left (a peer that does not close) must not keep the process up past its bound.
  exitAfterLog(log, 0);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start':
      return runDemo(rest, stderrLogger('xmpp1'));
    case 'node':
      return runNodeCommand(rest);
    case 'mmp':
      return runMmpCommand(rest, stderrLogger());
    case 'bridge':
      return runBridgeCommand(rest);
    case 'backup':
      return runBackupCommand(rest);
    case 'restore':
      return runRestoreCommand(rest);
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`Error: unknown command '${command}'\n${USAGE}`);
      return 2;
  }
}

/**
 * Every failure reaches the operator as one `Error:` line and a non-zero
 * exit, never a stack trace. Errors the code names (an operator's mistake, a
 * corrupt file, a port in use) say what to do; anything else is an internal
 * error, whose stack is printed only with XMPP_CLUSTER_LOG_LEVEL=debug.
 */
function errorLine(err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code ?? '';
  const name = (err as Error)?.name ?? '';
  const message = (err as Error)?.message ?? String(err);
  const known =
    err instanceof OperatorError ||
    err instanceof CorruptFileError ||
    err instanceof NewerFormatError ||
    ['ListenError', 'UserStoreError', 'HostKeyError', 'CorruptSnapshotError', 'CorruptLogError', 'CorruptFormatFileError', 'StateSnapshotError'].includes(name) || code.startsWith('ERR_PARSE_ARGS') || code === 'EADDRINUSE';
  const text = known ? message : `internal error: ${message}`;
  return `Error: ${text.replace(/\s*\n\s*/g, ' ')}\n`;
}

function fail(err: unknown): void {
  process.stderr.write(errorLine(err));
  if (process.env.XMPP_CLUSTER_LOG_LEVEL === 'debug' && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
}

// An error event nobody listens for (a socket failing in a library) would print a stack and exit.
// A node that dies this way also leaves its stack in its log, as one structured line.
process.on('uncaughtException', (err) => {
  // Written synchronously: the process exits right after.
  if (['node', 'start'].includes(process.argv[2] ?? '')) createLogger({ destination: pino.destination({ dest: 2, sync: true }) }).fatal({ module: 'process', event: 'crashed', err }, 'the node process failed');
  fail(err);
  process.exit(1);
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    fail(err);
    process.exitCode = 1;
  },
);
