import type { Socket } from 'node:net';
import type { StanzaName } from '../router/router.js';
import { StreamError } from '../xmpp/errors.js';
import { routingDomain } from '../xmpp/jid.js';
import { NS_SERVER, NS_STREAM } from '../xmpp/namespaces.js';
import { DEFAULT_MAX_ATTRIBUTES, DEFAULT_MAX_DEPTH } from '../xmpp/stream-parser.js';
import { XmppStream, type CloseReason } from '../xmpp/xmpp-stream.js';
import { newServerStreamId, verifyDialbackKey } from './dialback-key.js';
import { FederationPolicy, policyIncomingError } from './federation-policy.js';
import { s2sEvent } from './s2s-events.js';
import { checkPeerCertificate, serverTls } from './s2s-tls.js';
import * as wire from './s2s-wire.js';
import type { IncomingHooks, IncomingStream, S2sAuth, S2sCloseReason, S2sEnvironment } from './server-streams.js';

/**
 * The receiving side of one server-to-server connection (RFC 6120 §4-§6,
 * XEP-0220 §2.2, XEP-0178 §3): header checks, STARTTLS, SASL EXTERNAL or
 * dialback, then stanzas from authorized domains only. One object lives
 * through the stream restarts of STARTTLS and SASL, each a new XmppStream
 * over the (new) socket.
 */

/** What the receiving server asks the authoritative server (dialback-verifier.ts). */
export type DialbackCheck = (request: { receiving: string; originating: string; streamId: string; key: string; peer: string }) => Promise<'valid' | 'invalid'>;

export interface IncomingOptions {
  maxStanzaSize: number;
  headerTimeoutMs: number;
  tlsTimeoutMs: number;
  /** A stream on which no domain is authorized (nor asked about) in this long is cut off. */
  authTimeoutMs: number;
}

export const DEFAULT_INCOMING_OPTIONS: IncomingOptions = {
  maxStanzaSize: 256 * 1024,
  headerTimeoutMs: 10_000,
  tlsTimeoutMs: 10_000,
  authTimeoutMs: 60_000,
};

export interface IncomingContext {
  env: S2sEnvironment;
  hooks: IncomingHooks;
  verify: DialbackCheck;
  options: IncomingOptions;
  ended(stream: IncomingS2sStream): void;
}

const STANZAS = new Set(['message', 'presence', 'iq']);
let counter = 0;

export class IncomingS2sStream implements IncomingStream {
  readonly id = `s2sin-${++counter}`;
  readonly direction = 'incoming' as const;
  localDomain = '';
  remoteDomain = '';
  readonly peerAddress: string;
  tls: string | null = null;
  auth: S2sAuth = 'dialback';
  lastActivity = Date.now();
  readonly authorizedDomains = new Set<string>();
  private stream: XmppStream;
  private tlsSocket: import('node:tls').TLSSocket | undefined;
  private streamId = newServerStreamId();
  /** The `from` of the peer's latest header: who it says it is (SASL EXTERNAL's identity). */
  private headerFrom = '';
  private externalOffered = false;
  private saslDone = false;
  private closeWhy: (S2sCloseReason & { by: 'us' })['why'] = 'error';
  private peerError: string | undefined;
  private readonly holds = new Set<object>();
  private authTimer: NodeJS.Timeout | undefined;
  private ended = false;

  constructor(
    socket: Socket,
    private readonly ctx: IncomingContext,
  ) {
    this.stream = this.bind(socket);
    this.peerAddress = `${this.stream.remoteAddress}:${this.stream.remotePort}`;
    this.authTimer = setTimeout(() => this.fail(new StreamError('connection-timeout', 'no domain was authenticated on this stream in time')), ctx.options.authTimeoutMs);
  }

  // IncomingStream
  hold(reason: object): void {
    this.holds.add(reason);
    this.stream.hold(reason);
  }

  release(reason: object): void {
    this.holds.delete(reason);
    this.stream.release(reason);
  }

  close(reason: S2sCloseReason & { by: 'us' }): void {
    this.closeWhy = reason.why;
    if (reason.error) this.stream.fail(reason.error);
    else this.stream.close();
  }

  private bind(socket: Socket): XmppStream {
    const stream = new XmppStream(
      socket,
      {
        streamStart: (name, attrs) => this.onHeader(name, attrs),
        element: (name, attrs, raw, children) => this.onElement(name, attrs, raw, children),
        closed: (reason) => this.onClosed(reason),
      },
      {
        maxStanzaSize: this.ctx.options.maxStanzaSize,
        maxDepth: DEFAULT_MAX_DEPTH,
        maxAttributes: DEFAULT_MAX_ATTRIBUTES,
        errorHeader: () => wire.s2sHeader({ id: this.streamId, from: this.localDomain || this.ctx.env.domain() }),
      },
    );
    for (const h of this.holds) stream.hold(h);
    stream.setDeadline(this.ctx.options.headerTimeoutMs, 'connection-timeout', 'no stream header was received in time');
    return stream;
  }

  /** A stream restart (RFC 6120 §4.3.3): a new parser on the same or the TLS socket, and a new stream id. */
  private restart(socket: Socket): void {
    this.streamId = newServerStreamId();
    this.stream = this.bind(socket);
  }

  private isOurs(domain: string): boolean {
    const ours = this.ctx.env.domain().toLowerCase();
    return domain === ours || domain.endsWith(`.${ours}`);
  }

  private fail(error: StreamError, why: (S2sCloseReason & { by: 'us' })['why'] = 'error'): void {
    this.closeWhy = why;
    this.stream.fail(error);
  }

  private onHeader(name: string, attrs: Record<string, string>): void {
    this.stream.clearDeadline();
    const prefix = name.includes(':') ? name.slice(0, name.indexOf(':')) : '';
    if (wire.localName(name) !== 'stream' || (prefix ? attrs[`xmlns:${prefix}`] : attrs.xmlns) !== NS_STREAM) {
      return this.fail(new StreamError('invalid-namespace', `the stream element must be stream in ${NS_STREAM}`));
    }
    if (attrs.xmlns !== NS_SERVER) return this.fail(new StreamError('invalid-namespace', `this port speaks ${NS_SERVER} (RFC 6120 §4.8.2)`));
    const to = (attrs.to ?? this.ctx.env.domain()).toLowerCase();
    this.localDomain = to;
    this.headerFrom = (attrs.from ?? '').toLowerCase();
    // Federation off: our domain is not served on this port at all, the case
    // RFC 6120 §4.9.3.6 names <host-unknown/> for (the peer then bounces with
    // remote-server-not-found, as if we had no listener).
    if (!this.ctx.env.config().enabled) return this.fail(new StreamError('host-unknown', 'federation is disabled here'), 'policy');
    if (!this.isOurs(to)) return this.fail(new StreamError('host-unknown', `${to.slice(0, 100)} is not served here`));
    this.stream.open(wire.s2sHeader({ id: this.streamId, from: to, ...(this.headerFrom ? { to: this.headerFrom } : {}) }));
    this.stream.send(wire.featuresElement(this.offer()));
  }

  /** RFC 6120 §4.3.2 and §5.3.1: with TLS mandatory, STARTTLS is the only feature before TLS. */
  private offer(): wire.FeatureOffer {
    const config = this.ctx.env.config();
    const credentials = this.ctx.env.credentials();
    if (this.saslDone) return {};
    if (this.tls === null && config.securityMode !== 'none' && credentials) {
      if (config.securityMode === 'required') return { starttls: 'required' };
      return { starttls: 'optional', dialback: !config.clientCertsRequired };
    }
    if (this.tls === null && config.securityMode === 'required') return {};
    this.externalOffered = this.tls !== null && config.saslExternal.incoming && this.certificateNames(this.headerFrom);
    return { external: this.externalOffered, dialback: !config.clientCertsRequired };
  }

  private certificateNames(domain: string): boolean {
    if (!this.tlsSocket || domain === '') return false;
    return checkPeerCertificate(this.tlsSocket, domain, this.ctx.env.credentials()?.ca ?? null).verified;
  }

  private onElement(name: string, attrs: Record<string, string>, raw: string, children: number): void {
    this.lastActivity = Date.now();
    if (name === 'starttls' && attrs.xmlns === wire.NS_TLS) return this.onStarttls();
    if (name === 'auth' && attrs.xmlns === wire.NS_SASL) return this.onSaslAuth(attrs, raw);
    if (name === 'stream:error') {
      this.peerError = raw.slice(0, 300);
      return this.stream.close();
    }
    // RFC 6120 §5.3.1: with TLS required nothing but STARTTLS is processed before it;
    // data before the stream is secured and authenticated is §4.9.3.12's <not-authorized/>.
    if (this.tls === null && this.ctx.env.config().securityMode === 'required') {
      return this.fail(new StreamError('not-authorized', 'TLS is required: send <starttls/> first'), 'security');
    }
    const dialback = wire.dialbackElement(name, attrs);
    if (dialback === 'result' && attrs.type === undefined) return this.onDialbackResult(attrs, raw);
    if (dialback === 'verify' && attrs.type === undefined) return this.onDialbackVerify(attrs, raw);
    if (dialback !== null) return; // XEP-0220 §2.2: typed db elements are answers; none are due on an incoming stream.
    if (!STANZAS.has(name)) return this.fail(new StreamError('unsupported-stanza-type', `<${name.slice(0, 50)}/> is not a stanza`));
    this.onStanza(name as StanzaName, attrs, raw, children);
  }

  private onStarttls(): void {
    const credentials = this.ctx.env.credentials();
    if (this.tls !== null || !credentials || this.ctx.env.config().securityMode === 'none') {
      // RFC 6120 §5.4.2.2: <failure/>, then the stream and the connection close.
      this.stream.send(wire.TLS_FAILURE);
      return this.stream.close();
    }
    this.stream.send(wire.PROCEED);
    const socket = this.stream.detach();
    serverTls(socket, credentials, this.ctx.options.tlsTimeoutMs).then(
      ({ socket: tls, version }) => {
        if (this.ended) return void tls.destroy();
        this.tls = version;
        this.tlsSocket = tls;
        s2sEvent(this.ctx.env, 'tls-established', { domain: this.headerFrom, peer: this.peerAddress, direction: 'incoming', version }, 'incoming federation stream encrypted');
        this.restart(tls);
      },
      (err: Error) => {
        s2sEvent(this.ctx.env, 'tls-failed', { domain: this.headerFrom, peer: this.peerAddress, direction: 'incoming', reason: err.message }, 'TLS handshake with a federation peer failed');
        this.finish({ by: 'socket', message: `TLS handshake failed: ${err.message}` });
      },
    );
  }

  /** XEP-0178 §3 steps 7-10, the receiving server's side. */
  private onSaslAuth(attrs: Record<string, string>, raw: string): void {
    const domain = this.headerFrom;
    const fields = { domain, peer: this.peerAddress, direction: 'incoming' as const };
    if (!this.externalOffered || attrs.mechanism !== 'EXTERNAL') return void this.stream.send(wire.saslFailure('invalid-mechanism'));
    const authzid = wire.decodeSaslPayload(wire.textOf(raw));
    if (authzid === null) return void this.stream.send(wire.saslFailure('incorrect-encoding'));
    if (authzid !== '' && authzid.toLowerCase() !== domain) return void this.stream.send(wire.saslFailure('invalid-authzid'));
    if (!this.allowedByPolicy(domain)) return;
    if (!this.certificateNames(domain)) {
      s2sEvent(this.ctx.env, 'sasl-external-failed', { ...fields, reason: 'the certificate does not verify for the domain' }, 'SASL EXTERNAL refused');
      this.stream.send(wire.saslFailure('not-authorized'));
      return this.stream.close();
    }
    this.stream.send(wire.SASL_SUCCESS);
    s2sEvent(this.ctx.env, 'sasl-external-succeeded', fields, 'federation peer authenticated by certificate');
    this.saslDone = true;
    this.auth = 'sasl';
    const socket = this.stream.detach();
    this.authorize(domain);
    // RFC 6120 §6.4.6: the initiating entity restarts the stream after <success/>.
    this.restart(socket);
  }

  /** Policy for an incoming stream: refused is <policy-violation/> (federation.md, "Errors on the wire"). */
  private allowedByPolicy(domain: string): boolean {
    const decision = new FederationPolicy(this.ctx.env.config()).allows(domain, 'incoming');
    if (decision.allowed) return true;
    s2sEvent(this.ctx.env, 'policy-refused', { domain, peer: this.peerAddress, direction: 'incoming', reason: decision.text }, 'incoming federation refused by policy');
    this.fail(policyIncomingError(domain), 'policy');
    return false;
  }

  /** XEP-0220 §2.2.1: the originating server asks to send for `from`; the authoritative server is asked. */
  private onDialbackResult(attrs: Record<string, string>, raw: string): void {
    const originating = (attrs.from ?? '').toLowerCase();
    const receiving = (attrs.to ?? '').toLowerCase();
    if (!originating || !receiving) return this.fail(new StreamError('improper-addressing', "db:result needs 'from' and 'to' (XEP-0220 §2.1.1)"));
    const config = this.ctx.env.config();
    if (config.clientCertsRequired) return this.fail(new StreamError('not-authorized', 'this server requires certificate authentication (SASL EXTERNAL)'), 'security');
    // Not our domain: a dialback error, not a stream error (XEP-0220 §2.2.1), other pairs stay up.
    if (!this.isOurs(receiving)) return void this.stream.send(wire.dialbackError('result', { from: receiving, to: originating }, 'item-not-found'));
    if (!this.allowedByPolicy(originating)) return;
    const key = wire.textOf(raw);
    const streamId = this.streamId;
    const asked = this.ctx.verify({ receiving, originating, streamId, key, peer: this.peerAddress }).catch(() => 'invalid' as const);
    void asked.then((type) => {
      if (this.ended || streamId !== this.streamId) return;
      this.stream.send(wire.dialbackAnswer('result', { from: receiving, to: originating }, type));
      const fields = { domain: originating, peer: this.peerAddress, direction: 'incoming' as const };
      if (type === 'valid') {
        s2sEvent(this.ctx.env, 'dialback-verified', fields, 'federation peer authenticated by dialback');
        return this.authorize(originating);
      }
      s2sEvent(this.ctx.env, 'dialback-invalid', fields, 'dialback key refused by the authoritative server');
      // XEP-0220 §2.2.1: "MUST close the XML stream"; the condition is RFC 6120 §4.9.3.12's.
      this.fail(new StreamError('not-authorized', `dialback for ${originating} failed`));
    });
  }

  /** XEP-0220 §2.2.2: a receiving server asks whether a key is ours. Any node with the secret answers. */
  private onDialbackVerify(attrs: Record<string, string>, raw: string): void {
    const asker = (attrs.from ?? '').toLowerCase();
    const us = (attrs.to ?? '').toLowerCase();
    const id = attrs.id ?? '';
    const answer = { from: us, to: asker, id };
    if (!asker || !us) return this.fail(new StreamError('improper-addressing', "db:verify needs 'from', 'to' and 'id' (XEP-0220 §2.1.2)"));
    if (!this.isOurs(us)) return void this.stream.send(wire.dialbackError('verify', answer, 'item-not-found'));
    const secret = this.ctx.env.config().dialbackSecret;
    let valid = false;
    try {
      valid = secret !== null && verifyDialbackKey({ secret, receiving: asker, originating: us, streamId: id }, wire.textOf(raw));
    } catch {
      valid = false; // an empty id binds no stream: invalid
    }
    this.stream.send(wire.dialbackAnswer('verify', answer, valid ? 'valid' : 'invalid'));
    // The authoritative side's record (XEP-0220 §2.2.2): in a cluster the node that answers is often not the one that sent the key.
    const fields = { domain: asker, peer: this.peerAddress, direction: 'incoming' as const, role: 'authoritative', localDomain: us };
    if (valid) s2sEvent(this.ctx.env, 'dialback-verified', fields, 'answered a db:verify for our key: valid');
    else s2sEvent(this.ctx.env, 'dialback-invalid', fields, 'answered a db:verify: not our key');
  }

  private authorize(domain: string): void {
    if (this.authTimer) clearTimeout(this.authTimer);
    this.authTimer = undefined;
    if (this.authorizedDomains.has(domain)) return;
    this.authorizedDomains.add(domain);
    if (this.remoteDomain === '') this.remoteDomain = domain;
    this.ctx.hooks.authorized(this, domain);
  }

  private onStanza(name: StanzaName, attrs: Record<string, string>, raw: string, _children: number): void {
    if (this.authorizedDomains.size === 0) return this.fail(new StreamError('not-authorized', 'authenticate (dialback or SASL EXTERNAL) before sending stanzas'));
    if (attrs.xmlns !== undefined && attrs.xmlns !== NS_SERVER) return this.fail(new StreamError('invalid-namespace', `stanzas on this stream are in ${NS_SERVER}`));
    const fromDomain = attrs.from === undefined ? null : routingDomain(attrs.from);
    // RFC 6120 §4.9.3.9 and XEP-0220 §4: only domains verified on this stream may send on it.
    if (fromDomain === null || !this.authorizedDomains.has(fromDomain)) {
      return this.fail(new StreamError('invalid-from', `'${(attrs.from ?? '').slice(0, 100)}' is not authorized on this stream`));
    }
    const toDomain = attrs.to === undefined ? null : routingDomain(attrs.to);
    if (toDomain === null) return this.fail(new StreamError('improper-addressing', "the stanza has no valid 'to'"));
    if (!this.isOurs(toDomain)) return this.fail(new StreamError('host-unknown', `${toDomain.slice(0, 100)} is not served here`));
    this.ctx.hooks.stanza({ name, attrs, raw, toDomain }, this);
  }

  private onClosed(reason: CloseReason): void {
    if (reason.by === 'peer' || this.peerError !== undefined) return this.finish({ by: 'peer', ...(this.peerError ? { error: this.peerError } : {}) });
    if (reason.by === 'us') return this.finish({ by: 'us', why: this.closeWhy, ...(reason.error ? { error: reason.error } : {}) });
    this.finish({ by: 'socket', message: reason.message });
  }

  private finish(reason: S2sCloseReason): void {
    if (this.ended) return;
    this.ended = true;
    if (this.authTimer) clearTimeout(this.authTimer);
    if (this.authorizedDomains.size > 0) this.ctx.hooks.closed(this, reason);
    this.ctx.ended(this);
  }
}
