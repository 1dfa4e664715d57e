import { createServer, type Server, type Socket } from 'node:net';
import { StreamError } from '../xmpp/errors.js';
import { createDialbackVerifier, type DialbackVerifierOptions } from './dialback-verifier.js';
import { DEFAULT_INCOMING_OPTIONS, IncomingS2sStream, type DialbackCheck, type IncomingOptions } from './incoming-stream.js';
import type { IncomingHooks, IncomingStream, S2sEnvironment } from './server-streams.js';

/**
 * The TCP side of incoming federation: listens on the node's s2s endpoints
 * (5269 in production, port 0 in tests) and runs one IncomingS2sStream per
 * connection. Bytes and sockets only; the stream does the protocol.
 */

export interface S2sListener {
  /** Where it listens, with the real port when 0 was asked for. */
  bindings(): Array<{ host: string; port: number }>;
  /** Open streams on which at least one domain is authorized. */
  streams(): IncomingStream[];
  /** Stops listening and ends every stream (`<system-shutdown/>`). */
  close(): Promise<void>;
}

export interface S2sListenerOptions extends Partial<IncomingOptions> {
  /** How db:result keys are checked; by default a dialback-verifier over env (XEP-0220 §2.1.2). */
  verify?: DialbackCheck;
  verifier?: DialbackVerifierOptions;
}

export async function listenS2s(env: S2sEnvironment, hooks: IncomingHooks, endpoints: Array<{ host: string; port: number }>, options: S2sListenerOptions = {}): Promise<S2sListener> {
  const live = new Set<IncomingS2sStream>();
  const sockets = new Set<Socket>();
  const ctx = {
    env,
    hooks,
    verify: options.verify ?? createDialbackVerifier(env, options.verifier),
    options: { ...DEFAULT_INCOMING_OPTIONS, ...stripUndefined(options) },
    ended: (s: IncomingS2sStream) => live.delete(s),
  };
  const servers: Server[] = [];
  try {
    for (const endpoint of endpoints) {
      const server = createServer((socket) => {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
        socket.on('error', () => undefined); // the stream reports it; an early reset must not crash the process
        live.add(new IncomingS2sStream(socket, ctx));
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(endpoint.port, endpoint.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      servers.push(server);
    }
  } catch (err) {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    throw err;
  }
  return {
    bindings: () =>
      servers.map((s) => {
        const a = s.address();
        return typeof a === 'object' && a !== null ? { host: a.address, port: a.port } : { host: String(a), port: 0 };
      }),
    streams: () => [...live].filter((s) => s.authorizedDomains.size > 0),
    close: async () => {
      const closing = servers.map((s) => new Promise((r) => s.close(r)));
      for (const s of live) s.close({ by: 'us', why: 'shutdown', error: new StreamError('system-shutdown', 'this server is shutting down') });
      // Streams end their sockets after a grace period; whatever is left then goes now.
      setTimeout(() => sockets.forEach((s) => s.destroy()), 2500).unref();
      await Promise.all(closing);
    },
  };
}

function stripUndefined(options: S2sListenerOptions): Partial<IncomingOptions> {
  const out: Partial<IncomingOptions> = {};
  for (const k of ['maxStanzaSize', 'headerTimeoutMs', 'tlsTimeoutMs', 'authTimeoutMs'] as const) {
    if (options[k] !== undefined) out[k] = options[k];
  }
  return out;
}
