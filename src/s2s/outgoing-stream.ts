import { connect, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Stanza, StanzaName } from '../router/router.js';
import { StreamError } from '../xmpp/errors.js';
import { routingDomain } from '../xmpp/jid.js';
import { XmppStream, type CloseReason } from '../xmpp/xmpp-stream.js';
import type { AttemptOutcome } from './connect-failure.js';
import { dialbackKey } from './dialback-key.js';
import type { PeerAddress } from './peer-addresses.js';
import { s2sEvent } from './s2s-events.js';
import { checkPeerCertificate, clientTls } from './s2s-tls.js';
import * as wire from './s2s-wire.js';
import type { OutgoingStream, S2sAuth, S2sCloseReason, S2sEnvironment } from './server-streams.js';

/**
 * The originating side of one server-to-server connection to one address
 * (RFC 6120 §4-§6, XEP-0220 §2.1, XEP-0178 §3): TCP connect, header,
 * STARTTLS per the security mode, then SASL EXTERNAL or dialback. The same
 * negotiation serves the receiving server's check of a key with the
 * authoritative server (`purpose: verify`, XEP-0220 §2.1.2), which sends
 * `db:verify` instead of authenticating, takes the answer and closes.
 */

export interface NegotiationTimeouts {
  connectTimeoutMs: number;
  /** Header, features, TLS and SASL, from the TCP connect on. */
  setupTimeoutMs: number;
  /** From `db:result` (or `db:verify`) sent to its answer. */
  dialbackTimeoutMs: number;
}

export type Purpose = { kind: 'stream' } | { kind: 'verify'; streamId: string; key: string };

export interface NegotiationRequest {
  env: S2sEnvironment;
  localDomain: string;
  remoteDomain: string;
  address: PeerAddress;
  purpose: Purpose;
  timeouts: NegotiationTimeouts;
}

/** One address did not give a stream: which outcome (connect-failure.ts) and why, for the log. */
export class AttemptFailure extends Error {
  constructor(
    readonly outcome: AttemptOutcome,
    message: string,
  ) {
    super(message);
    this.name = 'AttemptFailure';
  }
}

type State = 'connecting' | 'header' | 'features' | 'proceed' | 'tls' | 'sasl' | 'dialback' | 'ready' | 'closed';

let counter = 0;

export class OutgoingS2sStream implements OutgoingStream {
  readonly id = `s2sout-${++counter}`;
  readonly direction = 'outgoing' as const;
  readonly localDomain: string;
  readonly remoteDomain: string;
  readonly peerAddress: string;
  tls: string | null = null;
  auth: S2sAuth = 'dialback';
  lastActivity = Date.now();
  private state: State = 'connecting';
  private stream: XmppStream | undefined;
  private streamId = '';
  private peerCertVerified = false;
  /** The features SASL was tried under: whether dialback may follow a failure. */
  private offered: wire.OfferedFeatures | undefined;
  private timer: NodeJS.Timeout | undefined;
  private settle!: { resolve: (v: 'valid' | 'invalid' | undefined) => void; reject: (e: AttemptFailure) => void };
  private readonly closedCallbacks: Array<(r: S2sCloseReason) => void> = [];
  private readonly stanzaCallbacks: Array<(s: Stanza) => void> = [];
  private drainWaiters: Array<() => void> = [];
  private closeWhy: (S2sCloseReason & { by: 'us' })['why'] = 'error';
  private peerError: string | undefined;
  private closeReason: S2sCloseReason | undefined;
  /** Resolves when ready (stream) or with the verify answer; rejects with AttemptFailure. */
  readonly done: Promise<'valid' | 'invalid' | undefined>;

  private constructor(private readonly req: NegotiationRequest) {
    this.localDomain = req.localDomain.toLowerCase();
    this.remoteDomain = req.remoteDomain.toLowerCase();
    this.peerAddress = `${req.address.address}:${req.address.port}`;
    this.done = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.done.catch(() => undefined);
  }

  /** A ready, authenticated stream over one address, or AttemptFailure. */
  static async open(req: NegotiationRequest): Promise<OutgoingS2sStream> {
    const s = new OutgoingS2sStream(req);
    s.connect();
    await s.done;
    return s;
  }

  /** XEP-0220 §2.1.2 over one address: the authoritative server's answer, or AttemptFailure. */
  static async verify(req: NegotiationRequest): Promise<'valid' | 'invalid'> {
    const s = new OutgoingS2sStream(req);
    s.connect();
    return (await s.done) ?? 'invalid';
  }

  // OutgoingStream
  send(raw: string): boolean {
    if (this.state !== 'ready' || !this.stream) return true;
    this.lastActivity = Date.now();
    return this.stream.send(raw);
  }

  onDrained(callback: () => void): void {
    if (this.state === 'closed' || !this.stream || this.stream.backlog === 0) return callback();
    this.drainWaiters.push(callback);
  }

  close(reason: S2sCloseReason & { by: 'us' }): void {
    this.closeWhy = reason.why;
    if (!this.stream) return;
    if (reason.error) this.stream.fail(reason.error);
    else this.stream.close();
  }

  onClosed(callback: (reason: S2sCloseReason) => void): void {
    if (this.closeReason) return callback(this.closeReason);
    this.closedCallbacks.push(callback);
  }

  onStanza(callback: (stanza: Stanza) => void): void {
    this.stanzaCallbacks.push(callback);
  }

  // Negotiation
  private fields(extra: Record<string, string | number | boolean> = {}) {
    return { domain: this.remoteDomain, peer: this.peerAddress, direction: 'outgoing' as const, ...extra };
  }

  private deadline(ms: number, outcome: AttemptOutcome, text: string): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (outcome === 'timeout' && this.state === 'dialback') {
        s2sEvent(this.req.env, 'dialback-timeout', this.fields(), `no dialback answer within ${ms} ms`);
      }
      this.abandon(outcome, text, new StreamError('connection-timeout', text));
    }, ms);
  }

  /** Ends the attempt: the promise rejects with `outcome`, the stream closes (with `error` if given). */
  private abandon(outcome: AttemptOutcome, text: string, error?: StreamError): void {
    if (this.state === 'ready' || this.state === 'closed') return;
    if (this.timer) clearTimeout(this.timer);
    this.state = 'closed';
    this.settle.reject(new AttemptFailure(outcome, `${this.peerAddress}: ${text}`));
    if (this.stream) {
      if (error) this.stream.fail(error);
      else this.stream.close();
    }
  }

  private connect(): void {
    const { address, port } = this.req.address;
    const socket = connect({ host: address, port });
    this.deadline(this.req.timeouts.connectTimeoutMs, 'no-answer', `no TCP connection within ${this.req.timeouts.connectTimeoutMs} ms`);
    const failed = (err: Error) => {
      if (this.state !== 'connecting') return;
      this.abandon('no-answer', `connect failed: ${err.message}`);
      socket.destroy();
    };
    socket.once('error', failed);
    socket.once('connect', () => {
      socket.off('error', failed);
      if (this.state !== 'connecting') return void socket.destroy();
      this.deadline(this.req.timeouts.setupTimeoutMs, 'timeout', `the stream was not set up within ${this.req.timeouts.setupTimeoutMs} ms`);
      this.begin(socket);
    });
  }

  /** A new stream on `socket`: the first, or a restart after TLS or SASL (RFC 6120 §4.3.3). */
  private begin(socket: Socket): void {
    this.state = 'header';
    this.stream = new XmppStream(
      socket,
      {
        streamStart: (_name, attrs) => this.onHeader(attrs),
        element: (name, attrs, raw) => this.onElement(name, attrs, raw),
        closed: (reason) => this.streamClosed(reason),
        drained: () => this.drained(),
      },
      { maxStanzaSize: 256 * 1024, errorHeader: () => this.header() },
    );
    this.stream.open(this.header());
  }

  private header(): string {
    return wire.s2sHeader({ from: this.localDomain, to: this.remoteDomain });
  }

  private onHeader(attrs: Record<string, string>): void {
    if (this.state === 'ready') return;
    // The receiving server's stream id is the key's third input (XEP-0185 §2).
    this.streamId = attrs.id ?? '';
    this.state = 'features';
  }

  private onElement(name: string, attrs: Record<string, string>, raw: string): void {
    this.lastActivity = Date.now();
    if (name === 'stream:error') {
      this.peerError = raw.slice(0, 300);
      if (this.state !== 'ready') return this.abandon('stream-error', `the peer ended the stream: ${raw.slice(0, 200)}`);
      return this.stream?.close();
    }
    switch (this.state) {
      case 'features':
        if (name === 'stream:features') return this.onFeatures(wire.readFeatures(raw));
        return;
      case 'proceed':
        if (name === 'proceed' && attrs.xmlns === wire.NS_TLS) return this.startTls();
        if (name === 'failure') return this.abandon('tls-failed', 'the peer refused STARTTLS');
        return;
      case 'sasl':
        if (name === 'success' && attrs.xmlns === wire.NS_SASL) return this.saslSucceeded();
        if (name === 'failure' && attrs.xmlns === wire.NS_SASL) return this.saslFailed(raw);
        return;
      case 'dialback':
        return this.onDialbackAnswer(name, attrs);
      case 'ready':
        return this.peerStanza(name, attrs, raw);
    }
  }

  private onFeatures(features: wire.OfferedFeatures): void {
    const config = this.req.env.config();
    const credentials = this.req.env.credentials();
    if (this.auth === 'sasl') return this.ready();
    if (this.tls === null) {
      if (features.starttls && config.securityMode !== 'none' && credentials) {
        this.state = 'proceed';
        return void this.stream!.send(wire.STARTTLS);
      }
      // RFC 6120 §5.3.1: with TLS required, a peer without it is never used.
      if (config.securityMode === 'required') return this.abandon('tls-unavailable', 'TLS is required and the peer offers no STARTTLS');
      if (features.starttlsRequired) return this.abandon('tls-unavailable', 'the peer requires TLS, which our settings or certificate do not allow');
    }
    if (this.req.purpose.kind === 'verify') return this.sendVerify(this.req.purpose);
    if (this.tls !== null && credentials && config.saslExternal.outgoing && features.mechanisms.includes('EXTERNAL')) {
      this.state = 'sasl';
      this.offered = features;
      // XEP-0178 §3: the authorization identity is our domain, the stream's 'from'.
      return void this.stream!.send(wire.externalAuth(this.localDomain));
    }
    this.sendDialback();
  }

  private startTls(): void {
    const credentials = this.req.env.credentials()!;
    const socket = this.stream!.detach();
    this.state = 'tls';
    clientTls(socket, credentials, this.remoteDomain, this.req.timeouts.setupTimeoutMs).then(
      ({ socket: tls, version }) => this.tlsUp(tls, version),
      (err: Error) => {
        s2sEvent(this.req.env, 'tls-failed', this.fields({ reason: err.message }), 'TLS handshake with a federation peer failed');
        this.abandon('tls-failed', `TLS handshake failed: ${err.message}`);
      },
    );
  }

  private tlsUp(tls: TLSSocket, version: string): void {
    if (this.state !== 'tls') return void tls.destroy();
    const config = this.req.env.config();
    const check = checkPeerCertificate(tls, this.remoteDomain, this.req.env.credentials()?.ca ?? null);
    this.peerCertVerified = check.verified;
    if (!check.verified && config.clientCertsRequired) {
      s2sEvent(this.req.env, 'tls-failed', this.fields({ reason: check.reason ?? 'certificate not verified' }), "the peer's certificate does not verify");
      tls.destroy();
      return this.abandon('tls-failed', `the peer's certificate does not verify: ${check.reason}`);
    }
    this.tls = version;
    s2sEvent(this.req.env, 'tls-established', this.fields({ version, certificate: check.verified ? 'verified' : 'unverified' }), 'outgoing federation stream encrypted');
    // RFC 6120 §5.4.3.3: a new stream over the TLS layer.
    this.begin(tls);
  }

  private saslSucceeded(): void {
    s2sEvent(this.req.env, 'sasl-external-succeeded', this.fields(), 'authenticated to the peer by certificate');
    this.auth = 'sasl';
    // RFC 6120 §6.4.6: restart on the same socket; the features that follow complete the stream.
    this.begin(this.stream!.detach());
  }

  private saslFailed(raw: string): void {
    const condition = /<([a-z-]+)[\s/>]/.exec(raw.replace(/^<failure[^>]*>/, ''))?.[1] ?? 'failure';
    s2sEvent(this.req.env, 'sasl-external-failed', this.fields({ reason: condition }), 'the peer refused SASL EXTERNAL');
    // A peer may offer EXTERNAL without having checked our certificate
    // (ejabberd does); RFC 6120 §6.4.5 leaves the stream open after
    // <failure/>, so dialback follows on it when offered (as Prosody's
    // mod_dialback does). A peer that closes instead ends the attempt.
    if (this.offered?.dialback) return this.sendDialback();
    this.abandon('auth-failed', `SASL EXTERNAL failed (${condition})`);
  }

  /** XEP-0220 §2.1.1 step 1. */
  private sendDialback(): void {
    const secret = this.req.env.config().dialbackSecret;
    if (secret === null) return this.abandon('auth-failed', 'no dialback secret is set');
    if (this.streamId === '') return this.abandon('stream-error', 'the peer gave the stream no id, so no dialback key can be made');
    const key = dialbackKey({ secret, receiving: this.remoteDomain, originating: this.localDomain, streamId: this.streamId });
    this.state = 'dialback';
    this.stream!.send(wire.dialbackRequest('result', { from: this.localDomain, to: this.remoteDomain }, key));
    s2sEvent(this.req.env, 'dialback-sent', this.fields(), 'dialback key sent');
    this.deadline(this.req.timeouts.dialbackTimeoutMs, 'timeout', `no dialback answer within ${this.req.timeouts.dialbackTimeoutMs} ms`);
  }

  /** XEP-0220 §2.1.2 step 2: from = the receiving server (us), to = the domain asserted, id = its stream's id. */
  private sendVerify(purpose: { streamId: string; key: string }): void {
    this.state = 'dialback';
    this.stream!.send(wire.dialbackRequest('verify', { from: this.localDomain, to: this.remoteDomain, id: purpose.streamId }, purpose.key));
    this.deadline(this.req.timeouts.dialbackTimeoutMs, 'timeout', `no db:verify answer within ${this.req.timeouts.dialbackTimeoutMs} ms`);
  }

  private onDialbackAnswer(name: string, attrs: Record<string, string>): void {
    const kind = wire.dialbackElement(name, attrs);
    const verify = this.req.purpose.kind === 'verify';
    if (kind !== (verify ? 'verify' : 'result') || attrs.type === undefined) return;
    if ((attrs.from ?? '').toLowerCase() !== this.remoteDomain) return;
    if (verify && attrs.id !== (this.req.purpose as { streamId: string }).streamId) return;
    if (verify) {
      if (this.timer) clearTimeout(this.timer);
      this.state = 'closed';
      this.settle.resolve(attrs.type === 'valid' ? 'valid' : 'invalid');
      return this.stream!.close();
    }
    if (attrs.type === 'valid') {
      this.auth = 'dialback';
      return this.ready();
    }
    s2sEvent(this.req.env, 'dialback-invalid', this.fields({ type: attrs.type }), 'the peer refused our dialback key');
    this.abandon('auth-failed', `dialback answered type='${attrs.type}'`);
  }

  private ready(): void {
    if (this.timer) clearTimeout(this.timer);
    this.state = 'ready';
    this.lastActivity = Date.now();
    this.settle.resolve(undefined);
  }

  /** Whatever the peer sends on our stream (a bidirectional peer): only from the domain we are connected to. */
  private peerStanza(name: string, attrs: Record<string, string>, raw: string): void {
    if (name !== 'message' && name !== 'presence' && name !== 'iq') return;
    const from = attrs.from === undefined ? null : routingDomain(attrs.from);
    const toDomain = attrs.to === undefined ? null : routingDomain(attrs.to);
    if (from !== this.remoteDomain || toDomain === null) return;
    for (const cb of this.stanzaCallbacks) cb({ name: name as StanzaName, attrs, raw, toDomain });
  }

  private drained(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  private streamClosed(reason: CloseReason): void {
    if (this.state !== 'ready' && this.state !== 'closed') {
      const text = reason.by === 'socket' ? reason.message : 'the stream closed';
      this.abandon(this.state === 'dialback' && !this.peerError ? 'auth-failed' : 'stream-error', `closed during setup: ${text}`);
    }
    const wasReady = this.state === 'ready';
    this.state = 'closed';
    if (this.timer) clearTimeout(this.timer);
    if (!wasReady || this.closeReason) return this.drained();
    // A stream error from the peer ends the stream by the peer, though our footer answered it.
    this.closeReason =
      reason.by === 'peer' || this.peerError !== undefined
        ? { by: 'peer', ...(this.peerError ? { error: this.peerError } : {}) }
        : reason.by === 'us'
          ? { by: 'us', why: this.closeWhy, ...(reason.error ? { error: reason.error } : {}) }
          : { by: 'socket', message: reason.message };
    this.drained();
    for (const cb of this.closedCallbacks) cb(this.closeReason);
  }
}
