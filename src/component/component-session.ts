import type { Socket } from 'node:net';
import type { Logger } from '../observability/logger.js';
import type { HoldReason, Route, Router, StanzaName } from '../router/router.js';
import { StanzaError, StreamError } from '../xmpp/errors.js';
import { domainOf, routingDomain } from '../xmpp/jid.js';
import { NS_COMPONENT, NS_STREAM } from '../xmpp/namespaces.js';
import { errorReply, parseStanza, streamHeader } from '../xmpp/stanza.js';
import { DEFAULT_MAX_ATTRIBUTES, DEFAULT_MAX_DEPTH } from '../xmpp/stream-parser.js';
import { XmppStream, type CloseReason } from '../xmpp/xmpp-stream.js';
import type { AuthThrottle } from './auth-throttle.js';
import { newStreamId, verifyHandshake } from './handshake.js';
import { componentName, iqProblem } from './session-rules.js';

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
  /** Deepest element nesting in a stanza (the stanza is level 1); deeper is a policy-violation. */
  maxDepth: number;
  /** Most attributes on one element; more is a policy-violation. */
  maxAttributes: number;
}

export const DEFAULT_SESSION_OPTIONS: ComponentSessionOptions = {
  maxStanzaSize: 256 * 1024,
  headerTimeoutMs: 10_000,
  handshakeTimeoutMs: 10_000,
  stallTimeoutMs: 30_000,
  maxDepth: DEFAULT_MAX_DEPTH,
  maxAttributes: DEFAULT_MAX_ATTRIBUTES,
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

/** 'leaving': told <system-shutdown/>, out of the router, its last stanzas still routed (shutdown()). */
type State = 'awaiting-header' | 'awaiting-handshake' | 'authenticating' | 'online' | 'leaving' | 'closed';

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
  /**
   * Stanzas routed to this session between its attach and its `<handshake/>`
   * (a cluster's leader delivers what it held for the call bridge as soon as
   * it learns of the session, which may be before this member is told it may
   * answer the handshake); undefined once admitted.
   */
  private beforeAdmission: string[] | undefined = [];
  /** Stanzas read behind a handshake that waits for the auth throttle (keepUntilAuthenticated). */
  private early: Array<[name: string, attrs: Record<string, string>, raw: string, children: number]> = [];
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
        element: (name, attrs, raw, children) => this.onElement(name, attrs, raw, children),
        closed: (reason) => this.onClosed(reason),
        drained: () => this.drained(),
      },
      {
        maxStanzaSize: ctx.options.maxStanzaSize,
        maxDepth: ctx.options.maxDepth,
        maxAttributes: ctx.options.maxAttributes,
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

  /**
   * A graceful shutdown: the call bridge is told `error` (<system-shutdown/>)
   * after everything already written to it, and leaves the router at once,
   * so that the leader keeps what comes next for it until it reconnects
   * elsewhere; what it sent before it read the error is still routed, until
   * it closes its half or `graceMs` passed (XmppStream.fail).
   */
  shutdown(error: StreamError, graceMs: number): void {
    if (this.state !== 'online') return this.end(error);
    this.state = 'leaving';
    this.stream.fail(error, graceMs);
    this.ctx.router.detach(this);
  }

  // Route
  /** Over the mark, the stream stops reading this call bridge by itself until it drains. */
  deliver(raw: string): boolean {
    this.stanzasOut++;
    if (this.beforeAdmission !== undefined) {
      // XEP-0114: nothing but <handshake/> may come first; held stanzas wait for it.
      this.beforeAdmission.push(raw);
      return true;
    }
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

  private onElement(name: string, attrs: Record<string, string>, raw: string, children: number): void {
    if (this.state === 'online' || this.state === 'leaving') return this.onStanza(name, attrs, raw, children);
    if (this.state === 'authenticating') return this.keepUntilAuthenticated(name, attrs, raw, children);
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
  private keepUntilAuthenticated(name: string, attrs: Record<string, string>, raw: string, children: number): void {
    if (this.early.length >= MAX_EARLY_STANZAS) {
      return this.stream.fail(new StreamError('policy-violation', 'wait for the handshake answer before sending stanzas (XEP-0114)'));
    }
    this.early.push([name, attrs, raw, children]);
  }

  private authenticated(): void {
    this.ctx.throttle.success(this.stream.remoteAddress);
    this.state = 'online';
    this.since = new Date(this.ctx.now());
    this.ctx.authenticated(this);
    // <handshake/> once the router can reach this session from anywhere (in a cluster: once the leader knows it).
    this.ctx.router.attach(this, () => this.admitted());
  }

  private admitted(): void {
    if (this.state !== 'online') return;
    this.stream.send('<handshake/>');
    const held = this.beforeAdmission ?? [];
    this.beforeAdmission = undefined;
    for (const raw of held) this.stream.send(raw);
    this.ctx.log.info({ event: 'component_connected', component: this.address, peer: this.peer }, 'call bridge connected');
    const early = this.early;
    this.early = [];
    for (const [name, attrs, raw, children] of early) {
      if (this.state !== 'online') break; // one of them ended the stream
      this.onStanza(name, attrs, raw, children);
    }
  }

  /** The hot path: checks on the head only, then the original text goes on. */
  private onStanza(name: string, attrs: Record<string, string>, raw: string, children: number): void {
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
    const fromDomain = routingDomain(from);
    if (fromDomain !== this.address && fromDomain !== this.bareAlias) {
      // A 'from' in another domain is a spoof, and one whose domain part is
      // malformed is in no domain at all: invalid-from (RFC 6120 §4.9.3.9).
      // A 'from' that is ours but has a malformed local part or resource is
      // one bad address, not an unauthorized sender: jid-malformed
      // (§8.3.3.8) answers that stanza, and the call bridge's other calls
      // stay up. The error goes to the component's own address, since the
      // 'from' it would otherwise be sent to is not an address.
      const claimed = domainOf(from);
      if (fromDomain !== null || (claimed !== this.address && claimed !== this.bareAlias)) {
        return this.stream.fail(new StreamError('invalid-from', `'${from.slice(0, 100)}' is not in ${this.address}`));
      }
      this.stanzasIn++;
      return this.refuse(name, { id: attrs.id, type: attrs.type, from: this.address }, new StanzaError('jid-malformed', "the 'from' address is not a valid JID (RFC 7622)"));
    }
    const to = attrs.to;
    if (to === undefined || to === '') return this.stream.fail(new StreamError('improper-addressing', "the stanza has no 'to'"));
    this.stanzasIn++;
    const toDomain = routingDomain(to);
    if (toDomain === null) return this.refuse(name, attrs, new StanzaError('jid-malformed', "the 'to' address is not a valid JID (RFC 7622)"));
    if (name === 'iq') {
      const problem = iqProblem(attrs, children);
      if (problem !== null) return this.refuse(name, attrs, new StanzaError('bad-request', problem));
    }
    this.ctx.router.route({ name: name as StanzaName, attrs, raw, toDomain }, this);
  }

  /**
   * Answers a stanza the server will not route with a stanza error from the
   * server's own domain (the 'to' may be what is wrong); an error is never
   * answered with an error (RFC 6120 §8.3.1), only dropped.
   */
  private refuse(name: string, attrs: Record<string, string | undefined>, error: StanzaError): void {
    if (attrs.type === 'error') {
      this.ctx.log.debug({ event: 'stanza_refused', component: this.address, condition: error.condition }, 'malformed error stanza dropped (no error for an error)');
      return;
    }
    this.deliver(errorReply(name, attrs, error, this.ctx.domain()));
  }

  private onClosed(reason: CloseReason): void {
    const wasOnline = this.state === 'online';
    const left = this.state === 'leaving';
    this.state = 'closed';
    if (this.stallTimer) clearTimeout(this.stallTimer);
    // Closed early (evicted, shut down): no answer is due any more.
    if (this.failureTimer) clearTimeout(this.failureTimer);
    if (wasOnline) this.ctx.router.detach(this);
    if (wasOnline || left) {
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
