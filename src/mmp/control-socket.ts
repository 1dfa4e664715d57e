import { chmod, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import type { CommandResult, SessionMode, Terminal } from './command.js';
import { OperatorError } from '../base/operator-error.js';
import type { Interpreter } from './interpreter.js';

/**
 * The MMP on a local Unix socket in the data directory (mode 0600, so only
 * the node's own user reaches it). `xmpp-cluster mmp --data-dir D` talks to
 * a running node through it; the SSH shell is the door for remote operators.
 *
 * One JSON object a line. Client: {run, mode} then {answer} for each prompt.
 * Server: {prompt, echo} when a command asks, {output, exitCode} when done.
 * Client {backup: true} (`xmpp-cluster backup`): server {backup: text} or
 * {error}. Not an MMP command, so it is never reachable over SSH, and its
 * answer, which holds every secret of the node, is never shown as output.
 */

type ClientMessage = { run: string; mode: SessionMode } | { answer: string | null } | { backup: true };
type ServerMessage = { prompt: string; echo: boolean } | CommandResult;

const MAX_LINE = 64 * 1024;

/** Takes a backup of the running node: the backup file's content (backup-format.ts). */
export type BackupSource = () => Promise<string>;

export async function startControlSocket(path: string, interpreter: Interpreter, user = 'local', backup?: BackupSource): Promise<Server> {
  await unlink(path).catch(() => undefined);
  const server = createServer((socket) => serveConnection(socket, interpreter, user, backup));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  await chmod(path, 0o600);
  return server;
}

function serveConnection(socket: Socket, interpreter: Interpreter, user: string, backup: BackupSource | undefined): void {
  const lines = createInterface({ input: socket, crlfDelay: Infinity });
  // readline passes a socket error (a client that resets) on as its own 'error': unhandled, it would end the node.
  lines.on('error', () => undefined);
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
    if (!busy && 'backup' in msg && msg.backup === true) {
      busy = true;
      const answer = backup ? backup().then((text) => ({ backup: text }), (err: unknown) => ({ error: (err as Error)?.message ?? String(err) })) : Promise.resolve({ error: 'this node takes no backups' });
      void answer.then((reply) => {
        busy = false;
        if (!socket.destroyed) socket.write(JSON.stringify(reply) + '\n');
      });
      return;
    }
    if (busy || !('run' in msg) || typeof msg.run !== 'string') return void socket.destroy();
    busy = true;
    // Every command is answered, even one that fails in a way the interpreter did not foresee: a client must never wait forever.
    void interpreter
      .run(msg.run, terminal, msg.mode === 'interactive' ? 'interactive' : 'exec', user)
      .catch((err: unknown): CommandResult => ({ output: `Error: internal error: ${(err as Error)?.message ?? String(err)}\n`, exitCode: 1 }))
      .then((result) => {
        busy = false;
        if (!socket.destroyed) send(result);
      });
  });
  socket.on('error', () => undefined);
  socket.on('close', () => {
    const a = answer;
    answer = null;
    a?.(null);
  });
}

/** The control socket could not carry a command: said in words for the operator. */
export class ControlSocketError extends OperatorError {
  constructor(
    message: string,
    /** The socket error code (ENOENT, ECONNREFUSED, ...), when there was one. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'ControlSocketError';
  }
}

/**
 * Connects to the node behind `path`. ENOENT (no socket file) and
 * ECONNREFUSED (a file that nobody listens on: a node killed with -9, or one
 * still starting) come back as a ControlSocketError with that code, so a
 * caller can tell "no node answers" from a node that failed a command.
 */
export function connectControlSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    socket.once('connect', () => {
      socket.off('error', refused);
      // Until runOnControlSocket takes the socket, an error (the node reset
      // the connection) must not escape as an unhandled event; 'close'
      // follows every error, and runOnControlSocket reports that.
      socket.on('error', () => undefined);
      resolve(socket);
    });
    const refused = (err: NodeJS.ErrnoException) => reject(new ControlSocketError(`cannot reach the node on ${path}: ${err.code ?? err.message}`, err.code));
    socket.once('error', refused);
  });
}

/** Runs one command over a connected control socket, answering its prompts through `terminal`. */
export function runOnControlSocket(socket: Socket, line: string, terminal: Terminal, mode: SessionMode): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: socket, crlfDelay: Infinity });
    // readline passes its input's errors on as its own 'error' event; the socket's handler below reports them.
    lines.on('error', () => undefined);
    let settled = false;
    const settle = (result: CommandResult | ControlSocketError) => {
      if (settled) return;
      settled = true;
      lines.close();
      socket.destroy();
      if (result instanceof ControlSocketError) reject(result);
      else resolve(result);
    };
    const write = (m: ClientMessage) => {
      if (!socket.destroyed) socket.write(JSON.stringify(m) + '\n');
    };
    // Every socket error settles once; none may escape as an unhandled event (EPIPE when the node dies mid-command).
    socket.on('error', (err: NodeJS.ErrnoException) => settle(new ControlSocketError(`the connection to the node failed (${err.code ?? err.message}); the command may or may not have been applied`, err.code)));
    socket.once('close', () => settle(new ControlSocketError('the node closed the control socket before answering; the command may or may not have been applied')));
    if (socket.destroyed) return settle(new ControlSocketError('the node closed the control socket before answering; the command was not sent'));
    lines.on('line', (text) => {
      const msg = parseServerMessage(text);
      if (msg === null) return settle(new ControlSocketError('the node sent an answer this client does not understand'));
      if ('prompt' in msg) {
        void terminal.prompt(msg.prompt, { echo: msg.echo }).then((answer) => write({ answer }));
        return;
      }
      settle(msg);
    });
    write({ run: line, mode });
  });
}

/** Runs one command on the node behind `path`. */
export async function runThroughControlSocket(path: string, line: string, terminal: Terminal, mode: SessionMode): Promise<CommandResult> {
  return runOnControlSocket(await connectControlSocket(path), line, terminal, mode);
}

function parseServerMessage(text: string): ServerMessage | null {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof msg !== 'object' || msg === null) return null;
  const m = msg as Record<string, unknown>;
  if (typeof m.prompt === 'string' && typeof m.echo === 'boolean') return { prompt: m.prompt, echo: m.echo };
  if (typeof m.output === 'string' && (m.exitCode === 0 || m.exitCode === 1 || m.exitCode === 2)) return { output: m.output, exitCode: m.exitCode };
  return null;
}

/**
 * `xmpp-cluster backup`: asks the node behind `path` for its backup. The
 * answer is one line of any length (certificates included); the client reads
 * it whole rather than through readline's line limit.
 */
export async function requestBackup(path: string): Promise<string> {
  const socket = await connectControlSocket(path);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const settle = (result: string | ControlSocketError) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (result instanceof ControlSocketError) reject(result);
      else resolve(result);
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (!chunk.includes(0x0a)) return;
      let reply: unknown;
      try {
        reply = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return settle(new ControlSocketError('the node sent an answer this client does not understand'));
      }
      const r = reply as Record<string, unknown>;
      if (typeof r?.backup === 'string') return settle(r.backup);
      settle(new ControlSocketError(`the node could not take the backup: ${typeof r?.error === 'string' ? r.error : 'no reason given'}`));
    });
    socket.on('error', (err: NodeJS.ErrnoException) => settle(new ControlSocketError(`the connection to the node failed (${err.code ?? err.message})`, err.code)));
    socket.once('close', () => settle(new ControlSocketError('the node closed the control socket before answering')));
    socket.write(JSON.stringify({ backup: true }) + '\n');
  });
}
