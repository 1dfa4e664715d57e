import { chmod, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import type { CommandResult, SessionMode, Terminal } from './command.js';
import type { Interpreter } from './interpreter.js';

/**
 * The MMP on a local Unix socket in the data directory (mode 0600, so only
 * the node's own user reaches it). `xmpp-cluster mmp --data-dir D` talks to
 * a running node through it; the SSH shell is the door for remote operators.
 *
 * One JSON object a line. Client: {run, mode} then {answer} for each prompt.
 * Server: {prompt, echo} when a command asks, {output, exitCode} when done.
 */

type ClientMessage = { run: string; mode: SessionMode } | { answer: string | null };
type ServerMessage = { prompt: string; echo: boolean } | CommandResult;

const MAX_LINE = 64 * 1024;

export async function startControlSocket(path: string, interpreter: Interpreter, user = 'local'): Promise<Server> {
  await unlink(path).catch(() => undefined);
  const server = createServer((socket) => serveConnection(socket, interpreter, user));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  await chmod(path, 0o600);
  return server;
}

function serveConnection(socket: Socket, interpreter: Interpreter, user: string): void {
  const lines = createInterface({ input: socket, crlfDelay: Infinity });
  let answer: ((text: string | null) => void) | null = null;
  let busy = false;
  const send = (m: ServerMessage) => socket.write(JSON.stringify(m) + '\n');
  const terminal: Terminal = {
    prompt: (question, { echo }) =>
      new Promise((resolve) => {
        answer = resolve;
        send({ prompt: question, echo });
      }),
  };
  lines.on('line', (line) => {
    let msg: ClientMessage;
    try {
      if (line.length > MAX_LINE) throw new Error('line too long');
      msg = JSON.parse(line) as ClientMessage;
    } catch {
      socket.destroy();
      return;
    }
    if ('answer' in msg) {
      const a = answer;
      answer = null;
      a?.(typeof msg.answer === 'string' ? msg.answer : null);
      return;
    }
    if (busy || typeof msg.run !== 'string') return void socket.destroy();
    busy = true;
    void interpreter.run(msg.run, terminal, msg.mode === 'interactive' ? 'interactive' : 'exec', user).then((result) => {
      busy = false;
      send(result);
    });
  });
  socket.on('error', () => undefined);
  socket.on('close', () => {
    const a = answer;
    answer = null;
    a?.(null);
  });
}

/** Runs one command on the node behind `path`, answering its prompts through `terminal`. */
export function runThroughControlSocket(path: string, line: string, terminal: Terminal, mode: SessionMode): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    const lines = createInterface({ input: socket, crlfDelay: Infinity });
    let done = false;
    socket.once('error', (err) => {
      if (!done) reject(err);
    });
    socket.once('connect', () => socket.write(JSON.stringify({ run: line, mode } satisfies ClientMessage) + '\n'));
    lines.on('line', (text) => {
      const msg = JSON.parse(text) as ServerMessage;
      if ('prompt' in msg) {
        void terminal.prompt(msg.prompt, { echo: msg.echo }).then((a) => socket.write(JSON.stringify({ answer: a } satisfies ClientMessage) + '\n'));
        return;
      }
      done = true;
      socket.end();
      resolve(msg);
    });
    socket.once('close', () => {
      if (!done) reject(new Error('the node closed the control socket before answering'));
    });
  });
}
