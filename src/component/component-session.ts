import type { Socket } from 'node:net';
import type { Logger } from '../observability/logger.js';
import type { HoldReason, Route, Router, StanzaName } from '../router/router.js';
import { StreamError } from '../xmpp/errors.js';
import { domainOf } from '../xmpp/jid.js';
import { NS_COMPONENT, NS_STREAM } from '../xmpp/namespaces.js';
import { parseStanza, streamHeader } from '../xmpp/stanza.js';
import { XmppStream, type CloseReason } from '../xmpp/xmpp-stream.js';
import type { AuthThrottle } from './auth-throttle.js';
import { newStreamId, verifyHandshake } from './handshake.js';

/**
 * One call bridge's XEP-0114 connection: stream header, handshake, then
 * stanzas checked on their head and handed to the router as original text.
 */

export interface ComponentSessionOptions {
  maxStanzaSize: number;
  headerTimeoutMs: number;
  handshakeTimeoutMs: number;
  /** A peer that does not read for this long while stanzas wait for it is cut off. */
  stallTimeoutMs: number;
}

export const DEFAULT_SESSION_OPTIONS: ComponentSessionOptions = {
  maxStanzaSize: 256 * 1024,
  headerTimeoutMs: 10_000,
  handshakeTimeoutMs: 10_000,
  stallTimeoutMs: 30_000,
};

export interface ComponentSessionContext {
  /** The XMPP domain served now. */
  domain(): string;
  /** The call bridge's secret, by lowercased name; undefined if none is registered. */
  secretFor(name: string): string | undefined;
  router: Router;
  throttle: AuthThrottle;
  log: Logger;
  now(): number;
  options: ComponentSessionOptions;
  /** Told when the handshake succeeded: the session no longer counts as waiting to authenticate. */
  authenticated(session: ComponentSession): void;
  /** Told when the session ends, so the listener can forget it. */
  ended(session: ComponentSession): void;
}

export interface ComponentSessionInfo {
  address: string;
  callbridge: string;
  peer: string;
  since: Date;
  stanzasIn: number;
  stanzasOut: number;
}

type State = 'awaiting-header' | 'awaiting-handshake' | 'authenticating' | 'online' | 'closed';

/** The hold on a stream whose handshake waits for the auth throttle: nothing more is read until it is checked. */
const AUTH_WAIT = Object.freeze({ reason: 'handshake waiting for the auth throttle' });

const MAX_EARLY_STANZAS = 1024;

const STANZAS = new Set<string>(['message', 'presence', 'iq']);

export class ComponentSession implements Route {
  private state: State = 'awaiting-header';
  private readonly stream: XmppStream;
  private readonly streamId = newStreamId();
  /** The lowercased `to` of the peer's header, echoed in ours. */
  private requested = '';
  /** The call bridge name, lowercased. */
  callbridge = '';
  /** The component address, `<name>.<domain>`, lowercased. */
  address = '';
  /** The bare name, if the peer asked for it so (CMS style); stanzas may use it too. */
  private bareAlias: string | undefined;
  private since = new Date(0);
  stanzasIn = 0;
  stanzasOut = 0;
  /** Told once when the send queue drains or the session ends (Route.onDrained). */
  private drainWaiters: Array<() => void> = [];
  private stallTimer: NodeJS.Timeout | undefined;
  /** Stanzas read behind a handshake that waits for the auth throttle (keepUntilAuthenticated). */
  private early: Array<[name: string, attrs: Record<string, string>, raw: string]> = [];
  /** The auth throttle's delays: before a handshake is checked, and before a failure is answered. */
  private failureTimer: NodeJS.Timeout | undefined;

  constructor(
    socket: Socket,
    private readonly ctx: ComponentSessionContext,
  ) {
    this.stream = new XmppStream(
      socket,
      {
        streamStart: (name, attrs) => this.onStreamStart(name, attrs),
        element: (name, attrs, raw) => this.onElement(name, attrs, raw),
        closed: (reason) => this.onClosed(reason),
        drained: () => this.drained(),
      },
      {
        maxStanzaSize: ctx.options.maxStanzaSize,
        errorHeader: () => streamHeader({ xmlns: NS_COMPONENT, id: this.streamId, from: this.requested || ctx.domain() }),
      },
    );
    this.stream.setDeadline(ctx.options.headerTimeoutMs, 'connection-timeout', 'no stream header was received in time');
  }

  get remoteAddress(): string {
    return this.stream.remoteAddress;
  }

  get peer(): string {
    return `${this.stream.remoteAddress}:${this.stream.remotePort}`;
  }

  get isOnline(): boolean {
    return this.state === 'online';
  }

  info(): ComponentSessionInfo {
    return {
      address: this.address,
      callbridge: this.callbridge,
      peer: this.peer,
      since: this.since,
      stanzasIn: this.stanzasIn,
      stanzasOut: this.stanzasOut,
    };
  }

  /** Ends the session with a stream error (shutdown, call bridge deleted, ...). */
  end(error: StreamError): void {
    this.stream.fail(error);
  }

  // Route
  /** Over the mark, the stream stops reading this call bridge by itself until it drains. */
  deliver(raw: string): boolean {
    this.stanzasOut++;
    if (this.stream.send(raw)) return true;
    this.startStallTimer();
    return false;
  }

  replaced(): void {
    this.stream.fail(new StreamError('conflict', 'replaced by a new connection for this call bridge'));
  }

  onDrained(callback: () => void): void {
    if (this.state === 'closed') return callback();
    this.drainWaiters.push(callback);
  }

  hold(reason: HoldReason): void {
    this.stream.hold(reason);
  }

  release(reason: HoldReason): void {
    this.stream.release(reason);
  }

  private drained(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  private startStallTimer(): void {
    if (this.stallTimer) return;
    this.stallTimer = setTimeout(() => {
      this.ctx.log.warn({ event: 'component_stalled', component: this.address, peer: this.peer, backlog: this.stream.backlog }, 'call bridge stopped reading; closing its connection');
      this.stream.fail(new StreamError('connection-timeout', 'the call bridge stopped reading its stream'));
    }, this.ctx.options.stallTimeoutMs);
  }

  // Stream events
  private onStreamStart(name: string, attrs: Record<string, string>): void {
    this.stream.clearDeadline();
    const colon = name.indexOf(':');
    const prefix = colon === -1 ? '' : name.slice(0, colon);
    const local = colon === -1 ? name : name.slice(colon + 1);
    const streamNs = prefix ? attrs[`xmlns:${prefix}`] : attrs.xmlns;
    const to = (attrs.to ?? '').toLowerCase();
    this.requested = to;
    if (local !== 'stream' || streamNs !== NS_STREAM) {
      return this.stream.fail(new StreamError('invalid-namespace', `the stream element must be stream in ${NS_STREAM}`));
    }
    if (attrs.xmlns !== NS_COMPONENT) {
      return this.stream.fail(new StreamError('invalid-namespace', `this port speaks ${NS_COMPONENT} (XEP-0114)`));
    }
    const domain = this.ctx.domain();
    const name_ = componentName(to, domain);
    if (name_ === null) {
      return this.stream.fail(new StreamError('host-unknown', to ? `${to} is not a component of ${domain}` : "the stream header has no 'to'"));
    }
    this.callbridge = name_;
    this.address = `${name_}.${domain}`;
    if (to === name_) this.bareAlias = name_;
    this.state = 'awaiting-handshake';
    this.stream.open(streamHeader({ xmlns: NS_COMPONENT, id: this.streamId, from: to }));
    this.stream.setDeadline(this.ctx.options.handshakeTimeoutMs, 'connection-timeout', 'no handshake was received in time');
  }

  private onElement(name: string, attrs: Record<string, string>, raw: string): void {
    if (this.state === 'online') return this.onStanza(name, attrs, raw);
    if (this.state === 'authenticating') return this.keepUntilAuthenticated(name, attrs, raw);
    if (this.state !== 'awaiting-handshake') return;
    if (name !== 'handshake') {
      return this.stream.fail(new StreamError('not-authorized', 'send the handshake first (XEP-0114)'));
    }
    this.stream.clearDeadline();
    this.state = 'authenticating';
    const digest = parseStanza(raw).getText();
    const wait = this.ctx.throttle.delayBeforeCheck(this.stream.remoteAddress, this.ctx.now());
    if (wait === 0) return this.checkHandshake(digest);
    this.stream.hold(AUTH_WAIT);
    this.failureTimer = setTimeout(() => this.checkHandshake(digest), wait);
  }

  private checkHandshake(digest: string): void {
    if (this.state !== 'authenticating') return;
    const secret = this.ctx.secretFor(this.callbridge);
    if (verifyHandshake(this.streamId, secret, digest)) {
      this.stream.release(AUTH_WAIT);
      return this.authenticated();
    }

    // Never the secret or the digest in the log (DEVELOPERS.md).
    this.ctx.log.warn(
      { event: 'component_auth_failure', callbridge: this.callbridge, peer: this.stream.remoteAddress, known: secret !== undefined },
      'component authentication failure',
    );
    const delay = this.ctx.throttle.failure(this.stream.remoteAddress, this.ctx.now());
    this.stream.pause();
    this.failureTimer = setTimeout(() => this.stream.fail(new StreamError('not-authorized', 'authentication failure')), delay);
  }

  /**
   * Stanzas that arrived in the same read as a handshake still waiting for
   * the auth throttle: routed once it succeeds, dropped with the session if
   * it fails. The read is held meanwhile, so these are few; a peer that sends
   * more than a read's worth is cut off rather than buffered without end.
   */
  private keepUntilAuthenticated(name: string, attrs: Record<string, string>, raw: string): void {
    if (this.early.length >= MAX_EARLY_STANZAS) {
      return this.stream.fail(new StreamError('policy-violation', 'wait for the handshake answer before sending stanzas (XEP-0114)'));
    }
    this.early.push([name, attrs, raw]);
  }

  private authenticated(): void {
    this.ctx.throttle.success(this.stream.remoteAddress);
    this.state = 'online';
    this.since = new Date(this.ctx.now());
    this.ctx.authenticated(this);
    this.stream.send('<handshake/>');
    this.ctx.router.attach(this);
    this.ctx.log.info({ event: 'component_connected', component: this.address, peer: this.peer }, 'call bridge connected');
    const early = this.early;
    this.early = [];
    for (const [name, attrs, raw] of early) {
      if (this.state !== 'online') break; // one of them ended the stream
      this.onStanza(name, attrs, raw);
    }
  }

  /** The hot path: checks on the head only, then the original text goes on. */
  private onStanza(name: string, attrs: Record<string, string>, raw: string): void {
    if (!STANZAS.has(name)) {
      if (name === 'stream:error') return this.stream.close();
      return this.stream.fail(new StreamError('unsupported-stanza-type', `<${name}/> is not a stanza`));
    }
    const xmlns = attrs.xmlns;
    if (xmlns !== undefined && xmlns !== NS_COMPONENT) {
      return this.stream.fail(new StreamError('invalid-namespace', `stanzas on this stream are in ${NS_COMPONENT}`));
    }
    const from = attrs.from;
    if (from === undefined) return this.stream.fail(new StreamError('invalid-from', "a component's stanzas must carry 'from' (XEP-0114)"));
    const fromDomain = domainOf(from);
    if (fromDomain !== this.address && fromDomain !== this.bareAlias) {
      return this.stream.fail(new StreamError('invalid-from', `'${from}' is not in ${this.address}`));
    }
    const to = attrs.to;
    if (to === undefined || to === '') return this.stream.fail(new StreamError('improper-addressing', "the stanza has no 'to'"));
    this.stanzasIn++;
    this.ctx.router.route({ name: name as StanzaName, attrs, raw, toDomain: domainOf(to) }, this);
  }

  private onClosed(reason: CloseReason): void {
    const wasOnline = this.state === 'online';
    this.state = 'closed';
    if (this.stallTimer) clearTimeout(this.stallTimer);
    // Closed early (evicted, shut down): no answer is due any more.
    if (this.failureTimer) clearTimeout(this.failureTimer);
    if (wasOnline) {
      this.ctx.router.detach(this);
      this.ctx.log.info(
        { event: 'component_disconnected', component: this.address, peer: this.peer, by: reason.by, condition: reason.by === 'us' ? reason.error?.condition : undefined },
        'call bridge disconnected',
      );
    }
    // Whoever waited for us must not wait forever.
    this.drained();
    this.ctx.ended(this);
  }
}

/**
 * The call bridge a stream header's `to` names: `cb1.<domain>`, or the bare
 * `cb1` that CMS's Call Bridge configuration uses. Null when `to` is neither.
 */
export function componentName(to: string, domain: string): string | null {
  if (to === '') return null;
  if (to.endsWith(`.${domain}`)) {
    const name = to.slice(0, -(domain.length + 1));
    return name.indexOf('.') === -1 && name.length > 0 ? name : null;
  }
  return to.indexOf('.') === -1 ? to : null;
}
