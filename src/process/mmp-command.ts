import { access } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import type { Logger } from '../observability/logger.js';
import { dataDirLayout } from '../node/data-dir.js';
import { OperatorError } from '../base/operator-error.js';
import { isAlive, lockOwner } from '../node/lock.js';
import { XmppNode } from '../node/xmpp-node.js';
import type { CommandResult, SessionMode } from '../mmp/command.js';
import { runThroughControlSocket } from '../mmp/control-socket.js';
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
  const { values, positionals } = parseArgs({ args: argv, options: { 'data-dir': { type: 'string' } }, allowPositionals: true, strict: true });
  if (!values['data-dir']) throw new OperatorError('--data-dir is required');
  const dataDir = resolve(values['data-dir']);
  const terminal = new StdioTerminal();
  const line = positionals.join(' ');
  const mode: SessionMode = positionals.length > 0 ? 'exec' : 'interactive';
  let run: MmpRunner | undefined;
  try {
    run = await connect(dataDir, log);
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

async function connect(dataDir: string, log: Logger): Promise<MmpRunner> {
  const layout = dataDirLayout(dataDir);
  const owner = await lockOwner(layout.lock);
  if (owner !== null && isAlive(owner)) {
    const reachable = await access(layout.controlSocket).then(
      () => true,
      () => false,
    );
    if (!reachable) throw new OperatorError(`the node (pid ${owner}) on ${dataDir} has no control socket yet; try again in a moment`);
    return {
      run: (line, terminal, mode) => runThroughControlSocket(layout.controlSocket, line, terminal, mode),
      close: async () => undefined,
    };
  }
  const node = await XmppNode.open({ dataDir, name: 'local', address: '127.0.0.1', log, serve: false });
  const users = await UserStore.open(dataDir).catch(async (err: unknown) => {
    await node.close();
    throw err;
  });
  const interpreter = nodeInterpreter(node, { users });
  return {
    run: async (line, terminal, mode) => {
      const result = await interpreter.run(line, terminal, mode, 'local');
      return result;
    },
    close: () => node.close(),
  };
}
