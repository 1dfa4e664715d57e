import type { HoldReason, Route } from '../router/router.js';
import { StanzaError } from '../xmpp/errors.js';
import { bounceError } from './connect-failure.js';
import { OutboundQueue, queuedFromRaw, undelivered, type QueuedStanza, type Undelivered } from './outbound-queue.js';
import type { RemoteRouteContext } from './remote-route-context.js';
import { RouteCheckpoints } from './route-checkpoints.js';
import { SentWindow } from './sent-window.js';
import { SettleWaiters } from './settle-waiters.js';
import { S2sConnectError, type OutgoingStream, type S2sCloseReason } from './server-streams.js';
import { DEFAULT_LIVENESS, pingStanza } from './stream-liveness.js';
import { StreamWatch } from './stream-watch.js';

/**
 * The route for one (local domain, remote domain) pair: XEP-0220 authorizes
 * a stream per pair, so `cb1.example.test → other.test` and
 * `example.test → other.test` each get their own outgoing stream.
 *
 * No stream: stanzas wait in the OutboundQueue and ONE connection is set up
 * (never two for a pair at a time). Ready: the queue drains onto it in
 * order, later stanzas are written straight through. Connecting failed:
 * everything queued bounces once with connect-failure.ts's condition. The
 * stream ended: what it may have lost (SentWindow) is re-sent on a new one,
 * once; a second loss bounces it. Nothing leaves silently: errors and iq
 * results, which get no bounce (RFC 6120 §8.3.1, §8.2.3), are counted and
 * logged as dropped by the service.
 */

/** Queued stanzas past this fraction of the queue's bounds hold the sender (Route.deliver false). */
const QUEUE_MARK = 0.5;

export class RemoteRoute implements Route {
  readonly address: string;
  private readonly queue: OutboundQueue;
  private readonly window: SentWindow;
  private stream: OutgoingStream | undefined;
  private watch: StreamWatch | undefined;
  private connecting = false;
  private sendCongested = false;
  private drainWaiters: Array<() => void> = [];
  private readonly checkpoints: RouteCheckpoints;
  /** Stanzas re-sent once after a lost stream: a second loss bounces them. */
  private readonly resent = new WeakSet<QueuedStanza>();
  private failure: { readonly until: number; readonly error: StanzaError } | undefined;
  /** The router's parsed stanza handed over in routeFor, so deliver(raw) need not parse it again. */
  private offered: QueuedStanza | undefined;
  private ended = false;
  private closedWaiters: Array<() => void> = [];
  /** Stanzas given with deliverSettled that are not yet written, bounced or dropped. */
  private readonly settleWaiters = new SettleWaiters();

  constructor(
    readonly localDomain: string,
    readonly remoteDomain: string,
    private readonly ctx: RemoteRouteContext,
  ) {
    this.address = remoteDomain;
    this.queue = new OutboundQueue(remoteDomain, ctx.queueLimits);
    this.window = new SentWindow(ctx.queueLimits);
    this.checkpoints = new RouteCheckpoints(this.window);
  }

  /** The current stream, if ready. */
  get current(): OutgoingStream | undefined {
    return this.stream;
  }

  get queued(): number {
    return this.queue.size;
  }

  /** A stream, a connection being set up, or stanzas waiting: something a settings change acts on. */
  get busy(): boolean {
    return this.stream !== undefined || this.connecting || this.queue.size > 0;
  }

  /** Nothing here any more, not even a recent failure to answer with: the service may forget the route. */
  idleAt(now: number): boolean {
    return !this.busy && this.drainWaiters.length === 0 && (this.failure === undefined || now >= this.failure.until);
  }

  offer(stanza: QueuedStanza): this {
    this.offered = stanza;
    return this;
  }

  // Route
  deliver(raw: string): boolean {
    return this.take(this.stanzaFor(raw));
  }

  /** Route.deliverSettled: `settled` runs once written to an authenticated stream or bounced (settle-waiters.ts). */
  deliverSettled(raw: string, settled: () => void): boolean {
    const stanza = this.stanzaFor(raw);
    this.settleWaiters.add(stanza, settled);
    return this.take(stanza);
  }

  private stanzaFor(raw: string): QueuedStanza {
    const stanza = this.offered !== undefined && this.offered.raw === raw ? this.offered : queuedFromRaw(raw);
    this.offered = undefined;
    return stanza;
  }

  /** Bounces and drops go to the service; a stanza that leaves so is settled. */
  private leave(what: Undelivered, _origin: Route): void {
    this.ctx.undelivered(what, this);
    this.settleWaiters.settleAll(what);
  }

  private take(stanza: QueuedStanza): boolean {
    if (this.ended) {
      this.leave(undelivered([stanza], shuttingDown()), this);
      return true;
    }
    if (this.stream !== undefined && this.queue.size === 0 && !this.window.full) return this.write(this.stream, stanza);
    if (this.stream !== undefined) {
      // The peer has not yet proven it read the window's worth already written: wait
      // here (bounded, the oldest bounce past the bound) rather than write into a
      // socket that may be dead, where nothing could be re-sent or bounced.
      this.leave(this.queue.push(stanza), this);
      if (this.checkpoints.outstanding === 0) this.ping();
      return false;
    }
    if (this.failure !== undefined && this.ctx.clock.now() < this.failure.until) {
      this.leave(undelivered([stanza], this.failure.error), this);
      return true;
    }
    this.failure = undefined;
    this.leave(this.queue.push(stanza), this);
    this.startConnect();
    return !this.queueOverMark();
  }

  /** Never attached to the router by address, so never replaced. */
  replaced(): void {}

  onDrained(callback: () => void): void {
    if (this.ended || !this.congested()) return callback();
    this.drainWaiters.push(callback);
  }

  /**
   * The router holds this route when a sender it bounces to is congested.
   * It reads nothing from its peer to stop: server streams are one-way
   * (RFC 6120 §2.4), what the peer sends arrives on its incoming streams,
   * which are held through their own routes. Bounces are bounded by the
   * queue, so there is nothing to hold here.
   */
  hold(_reason: HoldReason): void {}
  release(_reason: HoldReason): void {}

  // Liveness, told by the service
  /** Something arrived from the remote domain: it is alive. */
  heard(): void {
    this.watch?.heard();
  }

  /** An iq result or error for one of our pings; false when it answers no ping of this stream. */
  pong(id: string): boolean {
    const answer = this.checkpoints.answer(id);
    if (answer === undefined) return false;
    if (answer.kind === 'late') {
      const withdrawn = this.queue.withdraw(answer.confirmed);
      if (withdrawn > 0) {
        this.ctx.log.info(
          { domain: this.remoteDomain, localDomain: this.localDomain, confirmed: withdrawn },
          `${this.remoteDomain} answered a ping of its replaced stream: what it read there is not sent again`,
        );
      }
    }
    this.watch?.heard();
    // The window has room again: what waited behind it goes out.
    this.flushQueued();
    this.notifyDrained();
    return true;
  }

  // Closes, asked by the service
  /**
   * The settings no longer allow this pair's stream (configurationChanged):
   * close it; what waits bounces with `error` when given (policy: not-allowed).
   */
  refuse(why: 'policy' | 'security', error: StanzaError | undefined): void {
    if (error !== undefined) this.leave(this.queue.failAll(error), this);
    if (this.stream !== undefined) this.stream.close({ by: 'us', why });
    this.notifyDrained();
  }

  /** Service shutdown: queued stanzas bounce, the stream closes; resolves once it has. */
  shutdown(): Promise<void> {
    this.ended = true;
    this.leave(this.queue.failAll(shuttingDown()), this);
    const stream = this.stream;
    const closed = stream === undefined ? Promise.resolve() : new Promise<void>((resolve) => this.closedWaiters.push(resolve));
    stream?.close({ by: 'us', why: 'shutdown' });
    this.notifyDrained();
    return closed;
  }

  private write(stream: OutgoingStream, stanza: QueuedStanza): boolean {
    const ok = stream.send(stanza.raw);
    this.window.push(stanza);
    this.settleWaiters.settle(stanza);
    this.watch?.stanza('sent');
    // A checkpoint: confirm what was written before the copy fills (sent-window.ts).
    if (this.checkpoints.outstanding === 0 && this.window.wantsCheckpoint()) this.ping();
    if (!ok) this.congestedOn(stream);
    return ok && !this.queueOverMark() && !this.window.full;
  }

  private congestedOn(stream: OutgoingStream): void {
    if (this.sendCongested) return;
    this.sendCongested = true;
    stream.onDrained(() => {
      if (this.stream !== stream) return;
      this.sendCongested = false;
      this.notifyDrained();
    });
  }

  private congested(): boolean {
    return this.sendCongested || this.queueOverMark() || (this.stream !== undefined && this.window.full);
  }

  private queueOverMark(): boolean {
    const { maxStanzas, maxBytes } = this.queue.limits;
    return this.queue.size >= Math.max(1, maxStanzas * QUEUE_MARK) || this.queue.bytes >= maxBytes * QUEUE_MARK;
  }

  private notifyDrained(): void {
    if (!this.ended && this.congested()) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  private startConnect(): void {
    if (this.connecting || this.stream !== undefined || this.ended) return;
    this.connecting = true;
    let pending: Promise<OutgoingStream>;
    try {
      pending = this.ctx.connect({ localDomain: this.localDomain, remoteDomain: this.remoteDomain });
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(
      (stream) => this.ready(stream),
      (err: unknown) => this.failed(err),
    );
  }

  private ready(stream: OutgoingStream): void {
    this.connecting = false;
    if (this.ended) {
      stream.close({ by: 'us', why: 'shutdown' });
      return;
    }
    // The settings may have changed while it was being set up.
    const refusal = this.ctx.admission().refuses({ direction: 'outgoing', domains: [this.remoteDomain], tls: stream.tls, auth: stream.auth });
    if (refusal !== undefined) {
      stream.close({ by: 'us', why: refusal.why });
      const error =
        refusal.why === 'policy'
          ? new StanzaError('not-allowed', `federation with ${this.remoteDomain} is not allowed`, 'cancel')
          : new StanzaError('remote-connection-failed', `the connection to ${this.remoteDomain} does not meet the security settings`);
      this.ctx.log.info({ domain: this.remoteDomain, localDomain: this.localDomain, refused: refusal.why, text: refusal.text }, 'a new federation stream was refused by a settings change');
      this.leave(this.queue.failAll(error), this);
      this.notifyDrained();
      return;
    }
    this.stream = stream;
    this.sendCongested = false;
    this.checkpoints.reset();
    this.ctx.events.opened(stream);
    stream.onClosed((reason) => this.streamClosed(stream, reason));
    stream.onStanza((stanza) => this.ctx.received(stanza, stream));
    this.watch = new StreamWatch(
      this.ctx.clock,
      this.ctx.liveness,
      { ping: () => this.ping(), dead: () => this.dead(stream), idle: () => stream.close({ by: 'us', why: 'idle' }) },
      true,
    );
    this.checkpoints.rewritten();
    this.flushQueued();
    this.notifyDrained();
  }

  /** Writes what waits, in order, as far as the window has room; the rest waits for the next checkpoint's answer. */
  private flushQueued(): void {
    const stream = this.stream;
    if (stream === undefined || this.queue.size === 0) return;
    const waiting = this.queue.drain();
    let i = 0;
    for (; i < waiting.length && this.stream === stream && !this.window.full; i++) this.write(stream, waiting[i]!);
    // Ended while draining: the rest waits for the next stream, behind what streamClosed re-queued.
    for (const rest of waiting.slice(i)) this.leave(this.queue.push(rest), this);
    if (this.stream !== stream) this.startConnect();
    else if (this.queue.size > 0 && this.checkpoints.outstanding === 0) this.ping();
  }

  private failed(err: unknown): void {
    this.connecting = false;
    const outcomes = err instanceof S2sConnectError ? err.outcomes : [];
    const error = bounceError(this.remoteDomain, outcomes);
    this.ctx.log.warn(
      { domain: this.remoteDomain, localDomain: this.localDomain, outcomes, condition: error.condition, queued: this.queue.size },
      `no federation connection to ${this.remoteDomain}: queued stanzas bounce with ${error.condition}`,
    );
    if (this.ctx.retryAfterFailureMs > 0) this.failure = { until: this.ctx.clock.now() + this.ctx.retryAfterFailureMs, error };
    this.leave(this.queue.failAll(error), this);
    this.notifyDrained();
  }

  /** XEP-0199 §4.2: a ping from our domain to the peer's; its mark confirms what was written before it. */
  private ping(): void {
    const stream = this.stream;
    if (stream === undefined) return;
    const id = this.ctx.pingId();
    this.checkpoints.sent(id);
    this.ctx.count('pings');
    // A checkpoint is a ping too: unanswered, it makes the stream dead after pingTimeoutMs (a no-op for the watch's own).
    this.watch?.pinged();
    // Written even over the send mark: it is small, and a congested peer is the one to check on.
    stream.send(pingStanza(this.localDomain, this.remoteDomain, id));
  }

  private dead(stream: OutgoingStream): void {
    if (this.stream !== stream) return;
    const { idleBeforePingMs, pingTimeoutMs } = { ...DEFAULT_LIVENESS, ...this.ctx.liveness };
    this.ctx.events.peerUnresponsive(stream, idleBeforePingMs + pingTimeoutMs);
    stream.close({ by: 'us', why: 'ping-timeout' });
  }

  private streamClosed(stream: OutgoingStream, reason: S2sCloseReason): void {
    if (this.stream !== stream) return;
    this.stream = undefined;
    this.watch?.stop();
    this.watch = undefined;
    this.sendCongested = false;
    this.ctx.events.closed(stream, reason);
    // Our own clean closes (idle, policy, security, shutdown) write the
    // closing tag after everything before it, so the peer reads those
    // stanzas first: they count as delivered. A stream that died (no pong),
    // broke, or that the peer ended may have lost what it was not yet proven
    // to have read: that is re-sent on a new stream, or bounced.
    const lost = reason.by !== 'us' || reason.why === 'ping-timeout' || reason.why === 'error';
    this.checkpoints.streamEnded(lost);
    const unconfirmed = this.window.takeAll();
    if (lost && unconfirmed.length > 0) this.resend(unconfirmed);
    if (this.queue.size > 0) this.startConnect();
    for (const w of this.closedWaiters.splice(0)) w();
    this.notifyDrained();
  }

  /** Re-queues what a lost stream may not have delivered, ahead of anything newer; a second loss bounces. */
  private resend(unconfirmed: readonly QueuedStanza[]): void {
    if (this.ended) {
      this.leave(undelivered(unconfirmed, shuttingDown()), this);
      return;
    }
    const again = unconfirmed.filter((s) => !this.resent.has(s));
    const twice = unconfirmed.filter((s) => this.resent.has(s));
    this.leave(undelivered(twice, new StanzaError('remote-server-timeout', `${this.remoteDomain} stopped answering`)), this);
    const newer = this.queue.drain();
    for (const s of again) {
      this.resent.add(s);
      this.ctx.count('resent');
      this.leave(this.queue.push(s), this);
    }
    for (const s of newer) this.leave(this.queue.push(s), this);
  }
}

/** What waits when the node stops: `wait`, the sender may try again later (RFC 6120 §8.3.3.17). */
function shuttingDown(): StanzaError {
  return new StanzaError('remote-server-timeout', 'the server is shutting down');
}
