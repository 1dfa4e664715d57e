import dgram from 'node:dgram';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../observability/logger.js';
import { answerQuery } from './dns-answer.js';
import { RateLimitLog, DEFAULT_RATE_LIMIT_LOG_MS } from './rate-limit-log.js';
import { DEFAULT_RATE_LIMIT, RateLimiter, type RateLimit } from './rate-limiter.js';
import { TcpFramer } from './tcp-framer.js';
import type { DnsZone } from './zone.js';

/**
 * The health-aware responder's sockets: UDP and TCP on each endpoint, the
 * same port for both: a client told TC=1 retries over TCP at the address and
 * port it asked (RFC 1035 §4.2.1), and authoritative servers must serve TCP
 * (RFC 7766 §5). Every answer comes from
 * answerQuery; this file only moves bytes, limits rates and times out idle
 * connections. Nothing a peer sends may throw out of a socket handler.
 */

export interface DnsResponderOptions {
  readonly log: Logger;
  /** Per source address over UDP; default 200 queries/s, bursts of 400. */
  readonly rateLimit?: RateLimit;
  /** A TCP connection silent this long is closed (RFC 7766 §6.2.3); default 10 s. */
  readonly tcpIdleMs?: number;
  /** TCP connections at once; one more is closed as it arrives. Default 100. */
  readonly maxTcpConnections?: number;
  /** How often `dns_rate_limited` may repeat per address; default 10 s. */
  readonly rateLimitLogMs?: number;
}

export interface DnsEndpoint {
  readonly address: string;
  readonly port: number;
}

export interface DnsListening {
  readonly address: string;
  /** The TCP port; UDP listens on the same one. */
  readonly port: number;
  readonly udpPort?: number;
}

export interface DnsResponderCounters {
  /** Responses sent, over UDP and TCP (FORMERR, REFUSED and the like included). */
  readonly answered: number;
  /** Packets not answered: responses, runts, broken TCP frames. */
  readonly dropped: number;
  /** UDP queries dropped over the rate limit. */
  readonly rateLimited: number;
  /** TCP connections closed on arrival because `maxTcpConnections` were open. */
  readonly tcpRefused: number;
  readonly tcpConnections: number;
}

const DEFAULT_TCP_IDLE_MS = 10_000;
const DEFAULT_MAX_TCP_CONNECTIONS = 100;
/** Tries at a port both UDP and TCP can have, when the port is ephemeral. */
const BIND_ATTEMPTS = 5;
/** One `dns_answer_failed` line per this, at most: a bug must not flood the log either. */
const FAILURE_LOG_MS = 10_000;

export class DnsResponder {
  private zone: DnsZone | null = null;
  private readonly log: Logger;
  private readonly limiter: RateLimiter;
  private readonly rateLog: RateLimitLog;
  private readonly tcpIdleMs: number;
  private readonly maxTcpConnections: number;
  private udpSockets: dgram.Socket[] = [];
  private tcpServers: net.Server[] = [];
  private readonly connections = new Set<net.Socket>();
  private lastFailureLogMs = -Infinity;
  private count = { answered: 0, dropped: 0, rateLimited: 0, tcpRefused: 0 };

  constructor(options: DnsResponderOptions) {
    this.log = options.log;
    this.limiter = new RateLimiter(options.rateLimit ?? DEFAULT_RATE_LIMIT);
    this.rateLog = new RateLimitLog(options.log, options.rateLimitLogMs ?? DEFAULT_RATE_LIMIT_LOG_MS);
    this.tcpIdleMs = options.tcpIdleMs ?? DEFAULT_TCP_IDLE_MS;
    this.maxTcpConnections = options.maxTcpConnections ?? DEFAULT_MAX_TCP_CONNECTIONS;
  }

  /** What to serve from now on; null answers every query REFUSED. Takes effect with the next query. */
  setZone(zone: DnsZone | null): void {
    this.zone = zone;
  }

  get counters(): DnsResponderCounters {
    return { ...this.count, tcpConnections: this.connections.size };
  }

  /**
   * Listens on UDP and TCP at each endpoint. Port 0: UDP takes an ephemeral
   * port and TCP the same number, trying again with another if TCP's is
   * taken. If any endpoint fails, those this call opened are closed again.
   */
  async listen(endpoints: readonly DnsEndpoint[]): Promise<DnsListening[]> {
    const opened: { udp: dgram.Socket; tcp: net.Server }[] = [];
    try {
      for (const endpoint of endpoints) opened.push(await this.bindPair(endpoint));
    } catch (err) {
      await Promise.all(opened.map(({ udp, tcp }) => Promise.all([closeUdp(udp), closeServer(tcp)])));
      throw err;
    }
    for (const { udp, tcp } of opened) {
      this.udpSockets.push(udp);
      this.tcpServers.push(tcp);
      udp.on('message', (msg, rinfo) => this.onUdp(udp, msg, rinfo));
      tcp.on('connection', (socket) => this.onConnection(socket));
    }
    return opened.map(({ udp, tcp }) => ({ address: udp.address().address, port: (tcp.address() as net.AddressInfo).port, udpPort: udp.address().port }));
  }

  /** Closes every socket, TCP connections included. */
  async close(): Promise<void> {
    this.rateLog.stop();
    for (const socket of this.connections) socket.destroy();
    this.connections.clear();
    const udp = this.udpSockets;
    const tcp = this.tcpServers;
    this.udpSockets = [];
    this.tcpServers = [];
    await Promise.all([...udp.map(closeUdp), ...tcp.map(closeServer)]);
  }

  private async bindPair(endpoint: DnsEndpoint): Promise<{ udp: dgram.Socket; tcp: net.Server }> {
    for (let attempt = 1; ; attempt++) {
      const udp = await bindUdp(endpoint);
      try {
        const tcp = await bindTcp(endpoint.address, udp.address().port);
        this.log.info({ module: 'dns', event: 'dns_listening', address: endpoint.address, port: udp.address().port }, 'DNS responder listening on UDP and TCP');
        return { udp, tcp };
      } catch (err) {
        await closeUdp(udp);
        const taken = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
        if (endpoint.port !== 0 || !taken || attempt >= BIND_ATTEMPTS) throw err;
      }
    }
  }

  private onUdp(socket: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    // Junk counts against the limit as queries do: a flood of it is a flood.
    if (!this.limiter.allow(rinfo.address, performance.now())) {
      this.count.rateLimited++;
      this.rateLog.record(rinfo.address);
      return;
    }
    const response = this.answer(msg, 'udp');
    // Port 0 cannot be a client's; answering it is only ever reflection.
    if (!response || rinfo.port === 0) {
      this.count.dropped++;
      return;
    }
    this.count.answered++;
    const sent = (err: Error | null) => {
      if (err) this.log.debug({ module: 'dns', event: 'dns_send_failed', peer: rinfo.address, code: (err as NodeJS.ErrnoException).code }, 'could not send a DNS response');
    };
    try {
      socket.send(response, rinfo.port, rinfo.address, sent);
    } catch (err) {
      // The socket closed under us (close() racing a packet): nothing to answer on.
      sent(err as Error);
    }
  }

  private onConnection(socket: net.Socket): void {
    socket.on('error', () => socket.destroy());
    if (this.connections.size >= this.maxTcpConnections) {
      this.count.tcpRefused++;
      socket.destroy();
      return;
    }
    this.connections.add(socket);
    socket.on('close', () => this.connections.delete(socket));
    socket.setNoDelay(true);
    // RFC 7766 §6.2.3: idle connections are closed by the server; the timer
    // restarts with every read and write, so a client pipelining queries stays.
    socket.setTimeout(this.tcpIdleMs, () => socket.destroy());
    const framer = new TcpFramer();
    socket.on('data', (chunk: Buffer) => {
      const frames = framer.push(chunk);
      socket.cork();
      let broken = frames.malformed;
      for (const message of frames.messages) {
        const response = this.answer(message, 'tcp');
        if (!response) {
          // A response packet or a runt: the stream is not a DNS client's.
          // The frame boundaries still hold, but nothing good follows.
          broken = true;
          break;
        }
        const prefix = Buffer.alloc(2);
        prefix.writeUInt16BE(response.length);
        socket.write(Buffer.concat([prefix, response]));
        this.count.answered++;
      }
      socket.uncork();
      if (broken) {
        this.count.dropped++;
        // Answers already written still reach the client, then the connection goes.
        socket.removeAllListeners('data');
        socket.end(() => socket.destroy());
        return;
      }
      // A client that does not read its answers is not read either, so its
      // pipelined queries cannot pile answers up in our memory.
      if (socket.writableNeedDrain) {
        socket.pause();
        socket.once('drain', () => socket.resume());
      }
    });
  }

  private answer(message: Buffer, transport: 'udp' | 'tcp'): Buffer | null {
    try {
      return answerQuery(message, this.zone, transport);
    } catch (err) {
      // A bug, not the peer's fault: log it now and then, never per packet.
      const now = performance.now();
      if (now - this.lastFailureLogMs >= FAILURE_LOG_MS) {
        this.lastFailureLogMs = now;
        this.log.error({ module: 'dns', event: 'dns_answer_failed', err }, 'could not answer a DNS query');
      }
      return null;
    }
  }
}

function bindUdp(endpoint: DnsEndpoint): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type: net.isIPv6(endpoint.address) ? 'udp6' : 'udp4' });
    const onError = (err: Error) => {
      void closeUdp(socket);
      reject(err);
    };
    socket.once('error', onError);
    socket.bind({ address: endpoint.address, port: endpoint.port, exclusive: true }, () => {
      socket.off('error', onError);
      // After binding, errors are per packet (ICMP unreachable and the like): never fatal.
      socket.on('error', () => undefined);
      resolve(socket);
    });
  });
}

function bindTcp(address: string, port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer({ allowHalfOpen: false });
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen({ host: address, port, exclusive: true }, () => {
      server.off('error', onError);
      // Accept errors (EMFILE) are passing; the listener stays.
      server.on('error', () => undefined);
      resolve(server);
    });
  });
}

function closeUdp(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve();
    }
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
}
