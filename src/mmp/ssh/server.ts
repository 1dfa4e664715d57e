import { mkdir } from 'node:fs/promises';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import ssh2, { type Connection, type PseudoTtyInfo, type ServerChannel, type Session } from 'ssh2';
import type { Logger } from '../../observability/logger.js';
import type { Interpreter } from '../interpreter.js';
import type { SessionMode } from '../command.js';
import type { UserStore } from '../users.js';
import { Authenticator, type PendingConnection } from './auth.js';
import { AUTHORIZED_KEYS_FILE } from './authorized-keys.js';
import { commandRunner } from './command-runner.js';
import { runExec } from './exec.js';
import { loadOrCreateHostKey } from './host-key.js';
import { DEFAULT_LOGIN_POLICY, LoginGuard, normalizeAddress, type LoginPolicy } from './login-guard.js';
import { serveSftp } from './sftp.js';
import { finish, runInteractiveShell, runScriptShell } from './shell.js';
import { TerminalIO } from './terminal-io.js';

/**
 * The MMP over SSH (reference/ports-and-names.md: 2222/tcp, 22 on an
 * appliance): interactive shell, exec mode and SFTP into the certificate
 * folder, all on ssh2. This file is the glue; the line editor, login guard,
 * SFTP mapping and shells live beside it.
 */

export interface MmpSshServerOptions {
  host: string;
  /** 0 picks a free port (tests); the result says which. */
  port: number;
  /** Holds the host key (`ssh_host_ed25519_key`), `authorized_keys` and, by default, `certs/`. */
  dataDir: string;
  interpreter: Interpreter;
  nodeName: () => string;
  logger: Logger;
  /** The accounts that may log in: the same store the `user` commands change. */
  users: UserStore;
  /** The folder SFTP serves; `<dataDir>/certs` unless given. */
  certFolder?: string;
  loginPolicy?: Partial<LoginPolicy>;
  /** Per-file upload limit; 1 MiB unless given. */
  maxUploadBytes?: number;
  /** How long a connection may take to log in; 60 s unless given. */
  loginGraceMs?: number;
}

export interface MmpSshServer {
  address: string;
  port: number;
  /** `SHA256:...`, what clients show on first connection. */
  hostKeyFingerprint: string;
  close(): Promise<void>;
}

// OpenSSH's LoginGraceTime is 120 s; an MMP login is typed, not scripted slowly.
const LOGIN_GRACE_MS = 60_000;
// Unauthenticated connections cost a key exchange each; more than this waiting at once is an attack.
const MAX_UNAUTHENTICATED = 64;

export async function startMmpSshServer(options: MmpSshServerOptions): Promise<MmpSshServer> {
  const logger = options.logger.child({ module: 'mmp.ssh' });
  const certFolder = options.certFolder ?? join(options.dataDir, 'certs');
  await mkdir(certFolder, { recursive: true, mode: 0o700 });
  const hostKey = await loadOrCreateHostKey(options.dataDir);
  if (hostKey.created) logger.info({ event: 'host-key-created', path: hostKey.path, fingerprint: hostKey.fingerprint }, 'SSH host key created');
  if (hostKey.repaired) logger.warn({ event: 'host-key-repaired', path: hostKey.path, fingerprint: hostKey.fingerprint }, 'SSH host key file rewritten: an earlier version wrote it damaged; the key is unchanged');

  const guard = new LoginGuard({ ...DEFAULT_LOGIN_POLICY, ...options.loginPolicy });
  const authenticator = new Authenticator({ users: options.users, guard, authorizedKeysPath: join(options.dataDir, AUTHORIZED_KEYS_FILE), logger });
  const sshServer = new ssh2.Server({ hostKeys: [hostKey.privateKey], ident: 'xmpp-cluster-MMP' });
  const clients = new Set<Connection>();
  const sockets = new Set<Socket>();
  /** Connections not logged in yet, by remote address and port; each is dropped after the grace time. */
  const pending = new Map<string, { admit(): void }>();
  const lastRefusalLog = new Map<string, number>();

  const startSession = (session: Session, user: string, address: string) => {
    let pty: PseudoTtyInfo | undefined;
    let io: TerminalIO | undefined;
    const runner = (mode: SessionMode) =>
      commandRunner({ interpreter: options.interpreter, nodeName: options.nodeName, mode, user, address, logger });
    const guarded = (channel: ServerChannel, work: Promise<void>) =>
      work.catch((err) => {
        logger.error({ event: 'session-error', user, address, err: (err as Error).message }, 'MMP session failed');
        finish(channel, 1);
      });

    session.on('pty', (accept, _reject, info) => {
      pty = info;
      accept?.();
    });
    session.on('window-change', (accept, _reject, info) => {
      if (pty) pty.cols = info.cols;
      io?.resize(info.cols);
      accept?.();
    });
    session.on('env', (_accept, reject) => reject?.());
    session.on('shell', (accept) => {
      const channel = accept();
      if (pty) {
        io = new TerminalIO(channel, pty.cols);
        void guarded(channel, runInteractiveShell(channel, io, runner('interactive')));
      } else {
        void guarded(channel, runScriptShell(channel, runner('exec')));
      }
    });
    session.on('exec', (accept, _reject, info) => {
      const channel = accept();
      if (pty) io = new TerminalIO(channel, pty.cols);
      void guarded(channel, runExec(channel, info.command, runner('exec'), io));
    });
    session.on('sftp', (accept) => {
      const sftp = accept();
      logger.info({ event: 'sftp-start', user, address }, 'SFTP session');
      serveSftp(sftp, { folder: certFolder, user, address, logger: options.logger.child({ module: 'mmp.sftp' }), maxFileBytes: options.maxUploadBytes });
    });
    session.on('subsystem', (_accept, reject) => reject?.());
  };

  sshServer.on('connection', (client: Connection, info) => {
    clients.add(client);
    const address = normalizeAddress(info.ip);
    const conn: PendingConnection = { address, failures: 0, end: () => client.end() };
    client.on('authentication', (ctx) => void authenticator.handle(ctx, conn));
    client.on('ready', () => {
      pending.get(`${info.ip}:${info.port}`)?.admit();
      const user = conn.user!;
      client.on('session', (accept) => startSession(accept(), user, address));
    });
    client.on('error', (err) => logger.debug({ event: 'connection-error', address, err: err.message }, 'SSH connection error'));
    client.on('close', () => clients.delete(client));
  });
  sshServer.on('error', (err: Error) => logger.error({ event: 'server-error', err: err.message }, 'SSH server error'));

  // Our own listener in front of ssh2, so that a locked address costs no key exchange.
  const netServer = createServer((socket) => {
    const address = normalizeAddress(socket.remoteAddress ?? '');
    const now = Date.now();
    if (guard.isLocked(address, now) || pending.size >= MAX_UNAUTHENTICATED) {
      // One line per address every 10 s: a flood must not turn into a flood of log lines.
      if ((lastRefusalLog.get(address) ?? 0) < now - 10_000) {
        if (lastRefusalLog.size > 1024) lastRefusalLog.clear();
        lastRefusalLog.set(address, now);
        logger.warn({ event: 'connection-refused', address, reason: guard.isLocked(address, now) ? 'address locked after failed logins' : 'too many unauthenticated connections' }, 'SSH connection refused');
      }
      socket.destroy();
      return;
    }
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    // Also covers a client that never sends its version line: ssh2 alone would wait forever.
    const grace = setTimeout(() => socket.destroy(), options.loginGraceMs ?? LOGIN_GRACE_MS);
    grace.unref();
    pending.set(key, {
      admit: () => {
        clearTimeout(grace);
        pending.delete(key);
      },
    });
    sockets.add(socket);
    socket.on('close', () => {
      clearTimeout(grace);
      pending.delete(key);
      sockets.delete(socket);
    });
    socket.on('error', () => undefined);
    sshServer.injectSocket(socket);
  });

  await new Promise<void>((resolve, reject) => {
    netServer.once('error', reject);
    netServer.listen(options.port, options.host, () => {
      netServer.off('error', reject);
      resolve();
    });
  });
  netServer.on('error', (err) => logger.error({ event: 'listen-error', err: err.message }, 'SSH listener error'));
  const bound = netServer.address() as AddressInfo;
  logger.info({ event: 'listening', address: bound.address, port: bound.port, fingerprint: hostKey.fingerprint }, 'MMP SSH server listening');

  return {
    address: bound.address,
    port: bound.port,
    hostKeyFingerprint: hostKey.fingerprint,
    close: () =>
      new Promise<void>((resolve) => {
        netServer.close(() => resolve());
        for (const client of clients) client.end();
        // Give the disconnect message a moment to leave, then drop what is left.
        setTimeout(() => {
          for (const socket of sockets) socket.destroy();
        }, 100).unref();
      }),
  };
}
