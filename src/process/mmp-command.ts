import type { Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import type { Logger } from '../observability/logger.js';
import { dataDirLayout } from '../node/data-dir.js';
import { OperatorError } from '../base/operator-error.js';
import { DataDirInUseError } from '../node/lock.js';
import { XmppNode } from '../node/xmpp-node.js';
import type { CommandResult, SessionMode } from '../mmp/command.js';
import { ControlSocketError, connectControlSocket, runOnControlSocket, runThroughControlSocket } from '../mmp/control-socket.js';
import { nodeInterpreter } from '../mmp/node-commands.js';
import { StdioTerminal } from '../mmp/stdio-terminal.js';
import { UserStore } from '../mmp/users.js';

/**
 * `xmpp-cluster mmp --data-dir D ['<command>']`: the MMP from this machine's
 * shell. A running node is reached through its control socket, so changes
 * take effect at once; a stopped node's data directory is edited directly,
 * under the same lock a node takes, and takes effect when it starts.
 */
export async function runMmpCommand(argv: string[], log: Logger): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { 'data-dir': { type: 'string' }, wait: { type: 'string' } }, allowPositionals: true, strict: true });
  if (!values['data-dir']) throw new OperatorError('--data-dir is required');
  const waitSeconds = Number(values.wait ?? STARTING_NODE_WAIT_MS / 1000);
  if (!Number.isFinite(waitSeconds) || waitSeconds < 0) throw new OperatorError(`--wait ${values.wait}: expected a number of seconds such as 15`);
  const dataDir = resolve(values['data-dir']);
  const terminal = new StdioTerminal();
  const line = positionals.join(' ');
  const mode: SessionMode = positionals.length > 0 ? 'exec' : 'interactive';
  let run: MmpRunner | undefined;
  try {
    run = await connect(dataDir, log, waitSeconds * 1000);
    if (mode === 'exec') {
      // As over SSH: a failure's Error line goes to standard error.
      const result = await run.run(line, terminal, mode);
      (result.exitCode === 0 ? process.stdout : process.stderr).write(result.output);
      return result.exitCode;
    }
    let last = 0;
    for (;;) {
      const typed = await terminal.readLine('mmp> ');
      if (typed === null || typed.trim() === 'exit') break;
      const result = await run.run(typed, terminal, mode);
      process.stdout.write(result.output);
      last = result.exitCode;
    }
    return last;
  } finally {
    await run?.close();
    terminal.close();
  }
}

interface MmpRunner {
  run(line: string, terminal: StdioTerminal, mode: SessionMode): Promise<CommandResult>;
  close(): Promise<void>;
}

/** By default, how long to wait for a node that holds its data directory but does not answer yet (it is starting). */
const STARTING_NODE_WAIT_MS = 15_000;
const RETRY_MS = 50;

/**
 * A running node is whatever answers on the control socket; a stopped one is
 * a data directory whose lock is free. Between the two, a process holds the
 * lock without answering: a node that is starting, or another offline edit.
 * Wait for either to finish, within a bound.
 */
async function connect(dataDir: string, log: Logger, waitMs: number): Promise<MmpRunner> {
  const layout = dataDirLayout(dataDir);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const socket = await connectControlSocket(layout.controlSocket).catch((err: unknown) => err as Error);
    if (!(socket instanceof Error)) return socketRunner(layout.controlSocket, socket);
    if (!(socket instanceof ControlSocketError) || (socket.code !== 'ENOENT' && socket.code !== 'ECONNREFUSED')) throw socket;
    try {
      return await offlineRunner(dataDir, log);
    } catch (err) {
      if (!(err instanceof DataDirInUseError)) throw err;
      if (Date.now() >= deadline) {
        throw new OperatorError(
          `the data directory ${dataDir} is held by ${err.holder ? `pid ${err.holder}` : 'another process'}, which does not answer on its control socket; if a node is starting there, try again when it has started`,
        );
      }
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}

/** The first command goes over the connection already made; later ones (interactive) connect again. */
function socketRunner(path: string, first: Socket): MmpRunner {
  let connected: Socket | undefined = first;
  return {
    run: (line, terminal, mode) => {
      const socket = connected;
      connected = undefined;
      return socket ? runOnControlSocket(socket, line, terminal, mode) : runThroughControlSocket(path, line, terminal, mode);
    },
    close: async () => void connected?.destroy(),
  };
}

async function offlineRunner(dataDir: string, log: Logger): Promise<MmpRunner> {
  const node = await XmppNode.open({ dataDir, name: 'local', address: '127.0.0.1', log, serve: false, lockWaitMs: 0 });
  const users = await UserStore.open(dataDir).catch(async (err: unknown) => {
    await node.close();
    throw err;
  });
  const interpreter = nodeInterpreter(node, { users });
  return {
    run: (line, terminal, mode) => interpreter.run(line, terminal, mode, 'local'),
    close: () => node.close(),
  };
}
