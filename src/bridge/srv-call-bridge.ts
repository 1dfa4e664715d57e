import { EventEmitter } from 'node:events';
import type { Resolver } from 'node:dns/promises';
import { SerialQueue } from '../base/serial-queue.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import { createResolver, DNS_ERROR_LINE, lookupSrv, SrvLookupError, type SrvResolution } from '../dns/srv-lookup.js';
import type { RandomFloat } from '../dns/srv-order.js';
import { CallBridge, CallBridgeConnectError, type ReceivedMessage } from './call-bridge.js';
import { ReconnectBackoff, type BackoffOptions } from './reconnect-backoff.js';

/**
 * A call bridge that finds its XMPP server by DNS SRV, as a CMS call bridge
 * with an empty "Server address" does: it looks up `_xmpp-component._tcp.<domain>`,
 * tries the targets in RFC 2782 order, one connection at a time (ports-and-names.md:
 * "a Call Bridge only connects to one XMPP server at a time"), and when a
 * connection is refused, times out, is refused at the handshake or drops,
 * moves straight to the next target, starting over at the top after the
 * last. It looks the name up again when the answer's time has passed or the
 * list is used up. Messages arrive as 'message' events whichever node they
 * come through.
 *
 * Events: 'attempt' (Attempt), 'connected' (SrvTargetAddress),
 * 'connect-failed' (ConnectFailure), 'dropped' (Dropped), 'dns-error'
 * (SrvLookupError), 'backoff' ({ delayMs }), 'message' (ReceivedMessage),
 * 'stream-error' (the session's error).
 */

export interface SrvCallBridgeOptions {
  name: string;
  secret: string;
  /** The XMPP domain; the component address is `<name>.<domain>`. */
  domain: string;
  /** `--srv`: the domain whose SRV records are looked up; `domain` by default. */
  srvDomain?: string;
  /** `--dns`: `<addr>[:<port>]` resolvers; the system's by default. */
  dnsServers?: string[];
  /** Per DNS query try; default 2000 ms. */
  dnsTimeoutMs?: number;
  /** TCP connect plus handshake, per target address; default 2000 ms. */
  connectTimeoutMs?: number;
  backoff?: Omit<BackoffOptions, 'random'>;
  /** A session that lasted this long counts as successful and resets the backoff; default 1000 ms. */
  stableSessionMs?: number;
  /** How long sendMessage waits for a session when none is up; default 10 s. */
  sendWaitMs?: number;
  /** RFC 2782 weighted choice and backoff jitter; Math.random by default. */
  random?: RandomFloat;
  log?: Logger;
  bareName?: boolean;
  echo?: boolean;
  /** CallBridgeOptions.answerIq. */
  answerIq?: boolean;
  localAddress?: string;
}

/** One address of one SRV target: what a connection attempt goes to. */
export interface SrvTargetAddress {
  readonly target: string;
  readonly address: string;
  readonly port: number;
}

/** Why the bridge left a target: the words its log uses. */
export type LeaveReason = 'refused' | 'timeout' | 'authentication failure' | 'disconnected' | 'closed' | string;

export interface Attempt extends SrvTargetAddress {
  /** The target it left and why; absent on the first attempt. */
  readonly left?: { readonly target: string; readonly reason: LeaveReason };
}

export interface ConnectFailure extends SrvTargetAddress {
  readonly reason: LeaveReason;
  /** A log line; `XMPP connection failed to connect to <target> due to authentication failure` for a refused secret. */
  readonly message: string;
}

export interface Dropped extends SrvTargetAddress {
  /** The stream error the server sent before closing, if any (system-shutdown ...). */
  readonly condition?: string;
}

export class SrvCallBridge extends EventEmitter {
  readonly address: string;
  private readonly log: Logger;
  private readonly resolver: Resolver;
  private readonly backoff: ReconnectBackoff;
  private readonly sends = new SerialQueue();
  private session: { bridge: CallBridge; to: SrvTargetAddress } | undefined;
  private closed = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> = Promise.resolve();

  private constructor(readonly options: SrvCallBridgeOptions) {
    super();
    this.address = `${options.name}.${options.domain}`.toLowerCase();
    this.log = (options.log ?? silentLogger()).child({ module: 'CallBridge', callbridge: options.name });
    this.resolver = createResolver({ servers: options.dnsServers, timeoutMs: options.dnsTimeoutMs });
    this.backoff = new ReconnectBackoff({ ...options.backoff, random: options.random });
  }

  /** Starts looking up and connecting; returns at once (see waitConnected). */
  static start(options: SrvCallBridgeOptions): SrvCallBridge {
    const bridge = new SrvCallBridge(options);
    bridge.loop = bridge.run().catch((err: unknown) => {
      bridge.log.error({ event: 'loop-failed', err }, 'call bridge reconnect loop failed');
    });
    return bridge;
  }

  /** Where the bridge has a session now. */
  get connectedTo(): SrvTargetAddress | undefined {
    return this.session?.to;
  }

  /** The current session's target, or the next one it connects to (rejects after timeoutMs or on close). */
  waitConnected(timeoutMs = 10_000): Promise<SrvTargetAddress> {
    if (this.session) return Promise.resolve(this.session.to);
    return this.nextSession(timeoutMs).then((s) => s.to);
  }

  /**
   * Sends a chat message on the current session; with none up, waits for the
   * next one (at most sendWaitMs). Calls go out in the order they were made.
   */
  sendMessage(to: string, body: string, id?: string): Promise<void> {
    return this.sends.run(async () => {
      const deadline = Date.now() + (this.options.sendWaitMs ?? 10_000);
      let failed: unknown;
      for (;;) {
        // After a failed write the current session is done even if its drop is not seen yet: wait for a new one.
        let session = this.session;
        if (failed !== undefined || !session?.bridge.online) {
          try {
            session = await this.nextSession(deadline - Date.now());
          } catch (err) {
            throw failed ?? err;
          }
        }
        try {
          await session.bridge.sendMessage(to, body, id);
          return;
        } catch (err) {
          // Not written: the session dropped under us. The next session takes it, unless time is up.
          if (Date.now() >= deadline) throw err;
          failed = err;
        }
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    this.resolver.cancel();
    await this.session?.bridge.close();
    this.emit('closed');
    await this.loop;
  }

  private nextSession(timeoutMs: number): Promise<{ bridge: CallBridge; to: SrvTargetAddress }> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error(`${this.address}: closed`));
      const timer = setTimeout(() => done(new Error(`${this.address}: no XMPP session within ${Math.max(0, timeoutMs)} ms`)), Math.max(0, timeoutMs));
      const onConnected = () => done();
      const onClosed = () => done(new Error(`${this.address}: closed`));
      const done = (err?: Error) => {
        clearTimeout(timer);
        this.off('connected', onConnected);
        this.off('closed', onClosed);
        if (err) reject(err);
        else resolve(this.session!);
      };
      this.on('connected', onConnected);
      this.on('closed', onClosed);
    });
  }

  /** The reconnect loop: resolve, try each target address in turn, hold a session, move on. */
  private async run(): Promise<void> {
    let resolution: SrvResolution | undefined;
    let candidates: SrvTargetAddress[] = [];
    let position = 0;
    // Attempts in a row that gave no lasting session: a full pass of them means nothing answers.
    let failures = 0;
    let left: Attempt['left'];
    while (!this.closed) {
      if (candidates.length > 0 && failures >= candidates.length) {
        failures = 0;
        await this.pause(this.backoff.next());
        // After a pass where nothing answered: fresh records, and the top of the list first.
        resolution = undefined;
        position = 0;
        continue;
      }
      if (!resolution || Date.now() >= resolution.expiresAt || position >= candidates.length) {
        resolution = await this.resolve();
        if (this.closed) break;
        if (!resolution) {
          await this.pause(this.backoff.next());
          continue;
        }
        const fresh = resolution.targets.flatMap((t) => t.addresses.map((address) => ({ target: t.target, address, port: t.port })));
        position = resumePosition(candidates, position, fresh);
        candidates = fresh;
      }
      const to = candidates[position++]!;
      this.emit('attempt', { ...to, left } satisfies Attempt);
      this.log.info(
        { event: 'connect-attempt', target: to.target, address: to.address, port: to.port, left },
        `trying ${describe(to)}${left ? ` after ${left.reason} from ${left.target}` : ''}`,
      );
      let bridge: CallBridge;
      // Attached before the handshake: held stanzas may arrive with it.
      const onMessage = (m: ReceivedMessage) => this.emit('message', m);
      try {
        bridge = await CallBridge.connect({
          name: this.options.name,
          secret: this.options.secret,
          domain: this.options.domain,
          host: to.address,
          port: to.port,
          bareName: this.options.bareName,
          echo: this.options.echo,
          answerIq: this.options.answerIq,
          localAddress: this.options.localAddress,
          timeoutMs: this.options.connectTimeoutMs ?? 2000,
          onMessage,
        });
      } catch (err) {
        failures++;
        const reason = leaveReason(err);
        left = { target: to.target, reason };
        // The seeds' words for a refused secret; the same form for the other reasons.
        const message = `XMPP connection failed to connect to ${to.target} due to ${reason}`;
        this.emit('connect-failed', { ...to, reason, message } satisfies ConnectFailure);
        this.log.warn({ event: 'connect-failed', target: to.target, address: to.address, port: to.port, reason }, message);
        continue;
      }
      if (this.closed) {
        await bridge.close();
        break;
      }
      const started = Date.now();
      const condition = await this.hold(bridge, to, onMessage);
      if (this.closed) break;
      if (Date.now() - started >= (this.options.stableSessionMs ?? 1000)) {
        failures = 0;
        this.backoff.reset();
      } else {
        failures++;
      }
      left = { target: to.target, reason: 'disconnected' };
      this.emit('dropped', { ...to, condition } satisfies Dropped);
      this.log.warn(
        { event: 'session-dropped', target: to.target, address: to.address, port: to.port, condition },
        `XMPP connection dropped while session was live${condition ? ` (${condition})` : ''}`,
      );
    }
  }

  /** Holds one session until it drops (or the bridge closes); resolves with the server's stream error condition, if any. */
  private async hold(bridge: CallBridge, to: SrvTargetAddress, onMessage: (m: ReceivedMessage) => void): Promise<string | undefined> {
    let condition: string | undefined;
    const onStreamError = (err: Error & { condition?: string }) => {
      condition ??= err.condition;
      this.emit('stream-error', err);
    };
    bridge.on('stream-error', onStreamError);
    let onEnd = () => {};
    const dropped = new Promise<void>((resolve) => (onEnd = resolve));
    bridge.once('disconnected', onEnd);
    this.once('closed', onEnd);
    if (bridge.online) {
      this.session = { bridge, to };
      this.log.info({ event: 'connected', target: to.target, address: to.address, port: to.port }, `connected to ${describe(to)}`);
      this.emit('connected', to);
      await dropped;
    }
    this.session = undefined;
    this.off('closed', onEnd);
    bridge.off('disconnected', onEnd);
    bridge.off('message', onMessage);
    bridge.off('stream-error', onStreamError);
    await bridge.close();
    return condition;
  }

  /** One SRV lookup; a failure is logged in the seeds' words and gives undefined. */
  private async resolve(): Promise<SrvResolution | undefined> {
    const domain = this.options.srvDomain ?? this.options.domain;
    try {
      const resolution = await lookupSrv(domain, { resolver: this.resolver, random: this.options.random });
      this.log.debug(
        { event: 'srv-resolved', name: resolution.name, targets: resolution.targets, unresolved: resolution.unresolved, ttl: resolution.ttlSeconds },
        `${resolution.name}: ${resolution.targets.length} targets`,
      );
      return resolution;
    } catch (err) {
      if (this.closed) return undefined;
      const failure =
        err instanceof SrvLookupError ? err : new SrvLookupError('resolver-failure', domain, (err as { code?: string }).code, String(err));
      this.emit('dns-error', failure);
      this.log.warn({ event: 'dns-error', name: failure.query, condition: failure.condition, code: failure.code }, failure.message);
      this.log.warn({ event: 'dns-error', name: failure.query, reason: failure.failureReason }, DNS_ERROR_LINE);
      return undefined;
    }
  }

  /** Waits, or less if the bridge closes. */
  private async pause(delayMs: number): Promise<void> {
    if (this.closed) return;
    this.emit('backoff', { delayMs });
    this.log.debug({ event: 'backoff', delayMs }, `waiting ${delayMs} ms before trying again`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, delayMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
    this.wake = undefined;
  }
}

/**
 * Where to go on in a fresh answer. A lookup in the middle of the list (the
 * answer's time passed) goes on after the target last tried, so a node that
 * just dropped the session is not tried again first; a used-up list, or a
 * last target the answer no longer has, starts at the top.
 */
export function resumePosition(previous: readonly SrvTargetAddress[], position: number, fresh: readonly SrvTargetAddress[]): number {
  if (position <= 0 || position >= previous.length) return 0;
  const last = previous[position - 1]!;
  const at = fresh.findIndex((c) => sameTarget(c, last)) + 1;
  return at <= 0 || at >= fresh.length ? 0 : at;
}

function sameTarget(a: SrvTargetAddress, b: SrvTargetAddress): boolean {
  return a.target === b.target && a.address === b.address && a.port === b.port;
}

function describe(to: SrvTargetAddress): string {
  const host = to.address.includes(':') ? `[${to.address}]` : to.address;
  return `${to.target} (${host}:${to.port})`;
}

/** Why a connection attempt failed, in the call-bridge log's words. */
export function leaveReason(err: unknown): LeaveReason {
  if (err instanceof CallBridgeConnectError) {
    if (err.condition === 'not-authorized') return 'authentication failure';
    if (err.condition) return err.condition;
    if (err.code === 'ECONNREFUSED') return 'refused';
    if (err.code === 'ETIMEDOUT') return 'timeout';
    if (err.code) return err.code;
    return 'closed';
  }
  return String((err as { code?: string }).code ?? err);
}
