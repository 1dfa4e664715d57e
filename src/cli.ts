#!/usr/bin/env node
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { runBridgeCommand } from './bridge/bridge-command.js';
import { runMmpCommand } from './mmp/mmp-command.js';
import { runDemo } from './node/demo.js';
import { createLogger, type Logger } from './observability/logger.js';
import { startNode } from './node/node-process.js';
import { DEFAULT_COMPONENT_PORTS } from './node/xmpp-node.js';
import { CorruptFileError, ConfigError } from './node/config-error.js';
import { untilSignal } from './node/signals.js';

/**
 * xmpp-cluster <command>:
 *   start   the demo: one node on 127.0.0.1, domain example.test, two call bridges
 *   node    run one node on a data directory
 *   mmp     run MMP commands on a node (its control socket, or its data directory when it is stopped)
 *   bridge  a simulated call bridge (XEP-0114 component, xmpp.js)
 */

const USAGE = `usage: xmpp-cluster <command> [options]

  start   [--data-dir D]                          the demo node (npm start)
  node    --data-dir D [--name N] [--address A] [--iface b=ADDR ...]
          [--component-ports 5222,5223]           run one node
  mmp     --data-dir D ['<command>']              run MMP commands (interactive without a command)
  bridge  --name cb1 --secret S --domain D --server HOST:PORT
          [--echo] [--send JID --count N --body TEXT] [--expect N] [--bare-name]
                                                  a simulated call bridge
`;

export interface NodeCliOptions {
  dataDir: string;
  name: string;
  address: string;
  interfaces: Record<string, string>;
  componentPorts: number[];
}

function stderrLogger(name?: string): Logger {
  return createLogger({ node: name, destination: pino.destination(2) });
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
    },
    strict: true,
  });
  if (!values['data-dir']) throw new ConfigError('--data-dir is required');
  const interfaces: Record<string, string> = {};
  for (const spec of values.iface ?? []) {
    const m = /^([a-d])=(.+)$/.exec(spec);
    if (!m) throw new ConfigError(`--iface ${spec}: expected a letter a-d, '=', an address (--iface b=10.0.0.2)`);
    interfaces[m[1]!] = m[2]!;
  }
  const ports = values['component-ports'] ? values['component-ports'].split(',').map((p) => Number(p)) : DEFAULT_COMPONENT_PORTS;
  if (ports.some((p) => !Number.isInteger(p) || p < 0 || p > 65535)) throw new ConfigError(`--component-ports ${values['component-ports']}: expected ports such as 5222,5223`);
  return {
    dataDir: resolve(values['data-dir']),
    name: values.name ?? 'xmpp1',
    address: values.address ?? interfaces.a ?? '127.0.0.1',
    interfaces,
    componentPorts: ports,
  };
}

async function runNodeCommand(argv: string[]): Promise<number> {
  const opts = parseNodeOptions(argv);
  const log = stderrLogger(opts.name);
  const running = await startNode({ ...opts, log });
  await untilSignal();
  await running.close();
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

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const code = (err as NodeJS.ErrnoException)?.code ?? '';
    const known = err instanceof ConfigError || err instanceof CorruptFileError || (err as Error)?.name === 'ListenError' || code.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`Error: ${known ? (err as Error).message : (err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
