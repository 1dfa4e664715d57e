import type { HoldReason, Stanza, StanzaName } from '../../src/router/router.js';
import type { AttemptOutcome } from '../../src/s2s/connect-failure.js';
import {
  S2sConnectError,
  type IncomingHooks,
  type IncomingStream,
  type OutgoingConnector,
  type OutgoingRequest,
  type OutgoingStream,
  type S2sAuth,
  type S2sCloseReason,
} from '../../src/s2s/server-streams.js';
import type { Clock } from '../../src/s2s/stream-watch.js';
import { NS_PING } from '../../src/xmpp/namespaces.js';
import { parseStanza } from '../../src/xmpp/stanza.js';
import { routingDomain } from '../../src/xmpp/jid.js';

/**
 * In-memory server streams that keep the contract of src/s2s/server-streams.ts
 * (the one test double of the federation service's tests): an
 * OutgoingConnector whose connections succeed or fail with chosen outcomes
 * after a delay on a manual clock, outgoing streams with a send high-water
 * mark, incoming streams reported through IncomingHooks, closes from either
 * side, and peers that answer (or ignore) our XEP-0199 pings on their own
 * stream to us, as real servers do (RFC 6120 §2.4: one direction per stream).
 */

/** Runs every pending promise callback and microtask (not a sleep: nothing waits on time). */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Time that moves only when the test says so; timers fire in due order. */
export class ManualClock implements Clock {
  private time = 1_700_000_000_000;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Moves time on by `ms`, firing each timer due on the way at its own time (timers set meanwhile too). */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= end && (due === undefined || entry[1].at < due[1].at)) due = entry;
      if (due === undefined) break;
      this.timers.delete(due[0]);
      this.time = Math.max(this.time, due[1].at);
      due[1].fn();
    }
    this.time = end;
  }

  get pending(): number {
    return this.timers.size;
  }
}

/** The router's view of a stanza's text (what a session hands to router.route). */
export function stanza(raw: string): Stanza {
  const el = parseStanza(raw);
  const attrs = el.attrs as Record<string, string>;
  return { name: el.name as StanzaName, attrs, raw, toDomain: routingDomain(attrs.to ?? '') ?? '' };
}

/** Our XEP-0199 ping, if `raw` is one: its addresses and id. */
export function asPing(raw: string): { from: string; to: string; id: string } | undefined {
  const el = parseStanza(raw);
  if (el.name !== 'iq' || el.attrs.type !== 'get' || el.getChild('ping', NS_PING) === undefined) return undefined;
  return { from: el.attrs.from as string, to: el.attrs.to as string, id: el.attrs.id as string };
}

/** A peer's answer to a ping (XEP-0199 §4.2). */
export function pongFor(ping: { from: string; to: string; id: string }): string {
  return `<iq type='result' from='${ping.to}' to='${ping.from}' id='${ping.id}'/>`;
}

let streamSeq = 0;

export interface StreamShape {
  tls?: string | null;
  auth?: S2sAuth;
  /** Bytes buffered before send returns false; Infinity by default. */
  highWater?: number;
}

export class MemoryOutgoingStream implements OutgoingStream {
  readonly id = `out-${++streamSeq}`;
  readonly direction = 'outgoing' as const;
  readonly peerAddress: string;
  readonly tls: string | null;
  readonly auth: S2sAuth;
  lastActivity: number;
  /** Every text written, pings included, in order. */
  readonly sent: string[] = [];
  /** Writes after it ended: the service must never make any. */
  readonly afterClose: string[] = [];
  buffered = 0;
  highWater: number;
  closedWith: S2sCloseReason | undefined;
  private drainedCallbacks: Array<() => void> = [];
  private closedCallbacks: Array<(reason: S2sCloseReason) => void> = [];
  private stanzaCallbacks: Array<(stanza: Stanza) => void> = [];

  constructor(
    readonly localDomain: string,
    readonly remoteDomain: string,
    private readonly clock: Clock,
    shape: StreamShape,
    private readonly onSend: (raw: string, stream: MemoryOutgoingStream) => void,
  ) {
    this.peerAddress = `192.0.2.${10 + (streamSeq % 200)}:5269`;
    this.tls = shape.tls === undefined ? 'TLS 1.3' : shape.tls;
    this.auth = shape.auth ?? 'sasl';
    this.highWater = shape.highWater ?? Number.POSITIVE_INFINITY;
    this.lastActivity = clock.now();
  }

  get isClosed(): boolean {
    return this.closedWith !== undefined;
  }

  /** What was written other than our pings. */
  get stanzas(): string[] {
    return this.sent.filter((raw) => asPing(raw) === undefined);
  }

  get pings(): Array<{ from: string; to: string; id: string }> {
    return this.sent.map(asPing).filter((p) => p !== undefined);
  }

  send(raw: string): boolean {
    if (this.closedWith !== undefined) {
      this.afterClose.push(raw);
      return false;
    }
    this.sent.push(raw);
    this.lastActivity = this.clock.now();
    this.buffered += Buffer.byteLength(raw);
    this.onSend(raw, this);
    return this.buffered < this.highWater;
  }

  /** The peer read everything buffered: drained callbacks run once. */
  drain(): void {
    this.buffered = 0;
    for (const cb of this.drainedCallbacks.splice(0)) cb();
  }

  onDrained(callback: () => void): void {
    if (this.closedWith !== undefined || this.buffered < this.highWater) return callback();
    this.drainedCallbacks.push(callback);
  }

  close(reason: S2sCloseReason & { by: 'us' }): void {
    this.end(reason);
  }

  onClosed(callback: (reason: S2sCloseReason) => void): void {
    this.closedCallbacks.push(callback);
  }

  onStanza(callback: (stanza: Stanza) => void): void {
    this.stanzaCallbacks.push(callback);
  }

  /** The peer sends on our stream (a bidirectional peer, a stray answer). */
  emit(raw: string): void {
    for (const cb of this.stanzaCallbacks) cb(stanza(raw));
  }

  /** The peer ends it (`</stream:stream>`, or a stream error condition). */
  peerClose(error?: string): void {
    this.end(error === undefined ? { by: 'peer' } : { by: 'peer', error });
  }

  socketDrop(message = 'read ECONNRESET'): void {
    this.end({ by: 'socket', message });
  }

  private end(reason: S2sCloseReason): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = reason;
    for (const cb of this.drainedCallbacks.splice(0)) cb();
    for (const cb of this.closedCallbacks.splice(0)) cb(reason);
  }
}

export class MemoryIncomingStream implements IncomingStream {
  readonly id = `in-${++streamSeq}`;
  readonly direction = 'incoming' as const;
  readonly peerAddress: string;
  readonly tls: string | null;
  readonly auth: S2sAuth;
  readonly authorizedDomains = new Set<string>();
  lastActivity: number;
  readonly holds = new Set<HoldReason>();
  closedWith: S2sCloseReason | undefined;

  constructor(
    readonly localDomain: string,
    readonly remoteDomain: string,
    private readonly hooks: IncomingHooks,
    private readonly clock: Clock,
    shape: StreamShape = {},
  ) {
    this.peerAddress = `192.0.2.${10 + (streamSeq % 200)}:${40000 + streamSeq}`;
    this.tls = shape.tls === undefined ? 'TLS 1.3' : shape.tls;
    this.auth = shape.auth ?? 'sasl';
    this.lastActivity = clock.now();
  }

  get isClosed(): boolean {
    return this.closedWith !== undefined;
  }

  /** Dialback or SASL EXTERNAL succeeded for `domain` (the listener's report). */
  authorize(domain = this.remoteDomain): this {
    this.authorizedDomains.add(domain);
    this.hooks.authorized(this, domain);
    return this;
  }

  /** The peer sends a stanza (the listener has checked `from` and `to`). Ignored while held or closed, as a paused socket is. */
  receive(raw: string): void {
    if (this.closedWith !== undefined) throw new Error('receive on a closed incoming stream');
    this.lastActivity = this.clock.now();
    this.hooks.stanza(stanza(raw), this);
  }

  hold(reason: object): void {
    this.holds.add(reason);
  }

  release(reason: object): void {
    this.holds.delete(reason);
  }

  close(reason: S2sCloseReason & { by: 'us' }): void {
    this.end(reason);
  }

  peerClose(error?: string): void {
    this.end(error === undefined ? { by: 'peer' } : { by: 'peer', error });
  }

  private end(reason: S2sCloseReason): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = reason;
    if (this.authorizedDomains.size > 0) this.hooks.closed(this, reason);
  }
}

/** How the next connections to a peer go. */
export type ConnectPlan =
  | { readonly result: 'ready'; readonly delayMs?: number }
  | { readonly result: 'fail'; readonly outcomes: readonly AttemptOutcome[]; readonly delayMs?: number }
  /** Stays pending until the test calls succeed() or fail() on it. */
  | { readonly result: 'manual' };

export interface PendingConnect {
  readonly request: OutgoingRequest;
  succeed(): MemoryOutgoingStream;
  fail(outcomes: readonly AttemptOutcome[]): void;
}

/** A remote server: how we reach it, and what it does on the streams. */
export class MemoryPeer {
  plan: ConnectPlan = { result: 'ready' };
  shape: StreamShape = {};
  /** Answer our pings on its own incoming stream to us, as XEP-0199 servers do. False: a SIGSTOPped peer. */
  answersPings = true;
  /** Our outgoing streams to it, oldest first. */
  readonly streams: MemoryOutgoingStream[] = [];
  /** Its streams to us. */
  readonly incoming: MemoryIncomingStream[] = [];

  constructor(
    readonly domain: string,
    private readonly net: MemoryS2s,
  ) {}

  get last(): MemoryOutgoingStream | undefined {
    return this.streams[this.streams.length - 1];
  }

  /** Its stream to us, opened and authorized on first use. */
  streamToUs(localDomain = 'example.test', shape: StreamShape = {}): MemoryIncomingStream {
    const open = this.incoming.find((s) => !s.isClosed && s.localDomain === localDomain);
    if (open !== undefined) return open;
    const stream = new MemoryIncomingStream(localDomain, this.domain, this.net.hooks(), this.net.clock, shape);
    this.incoming.push(stream);
    return stream.authorize();
  }

  /** Everything written to it on any stream, pings left out. */
  received(): string[] {
    return this.streams.flatMap((s) => s.stanzas);
  }

  heardPing(raw: string, on: MemoryOutgoingStream): void {
    const ping = asPing(raw);
    if (ping === undefined || !this.answersPings) return;
    // The answer goes on the peer's own stream to us, a moment later.
    queueMicrotask(() => {
      if (!this.answersPings || on.isClosed) return;
      this.streamToUs(ping.from).receive(pongFor(ping));
    });
  }
}

/** The in-memory network: peers by domain, and the connector the service uses. */
export class MemoryS2s {
  readonly clock = new ManualClock();
  readonly requests: OutgoingRequest[] = [];
  readonly manual: PendingConnect[] = [];
  private readonly peers = new Map<string, MemoryPeer>();
  private incomingHooks: IncomingHooks | undefined;

  /** The service's hooks, once it exists. */
  attach(hooks: IncomingHooks): void {
    this.incomingHooks = hooks;
  }

  hooks(): IncomingHooks {
    if (this.incomingHooks === undefined) throw new Error('attach the service hooks first');
    return this.incomingHooks;
  }

  peer(domain: string): MemoryPeer {
    let peer = this.peers.get(domain);
    if (peer === undefined) {
      peer = new MemoryPeer(domain, this);
      this.peers.set(domain, peer);
    }
    return peer;
  }

  /** Connections asked for, to one domain. */
  connectsTo(domain: string): number {
    return this.requests.filter((r) => r.remoteDomain === domain).length;
  }

  readonly connect: OutgoingConnector = (request) => {
    this.requests.push(request);
    const peer = this.peer(request.remoteDomain);
    const plan = peer.plan;
    const open = () => {
      const stream = new MemoryOutgoingStream(request.localDomain, request.remoteDomain, this.clock, peer.shape, (raw, s) => peer.heardPing(raw, s));
      peer.streams.push(stream);
      return stream;
    };
    const failure = (outcomes: readonly AttemptOutcome[]) => new S2sConnectError(request.remoteDomain, outcomes, `cannot reach ${request.remoteDomain}`);
    return new Promise<OutgoingStream>((resolve, reject) => {
      if (plan.result === 'manual') {
        this.manual.push({
          request,
          succeed: () => {
            const s = open();
            resolve(s);
            return s;
          },
          fail: (outcomes) => reject(failure(outcomes)),
        });
        return;
      }
      const settle = () => (plan.result === 'ready' ? resolve(open()) : reject(failure(plan.outcomes)));
      if (plan.delayMs) this.clock.setTimeout(settle, plan.delayMs);
      else settle();
    });
  };
}
