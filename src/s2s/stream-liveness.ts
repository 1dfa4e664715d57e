import { NS_PING } from '../xmpp/namespaces.js';
import { xml } from '../xmpp/stanza.js';

/**
 * When a federated stream is pinged, declared dead or closed for idleness
 * (federation.md, "Settings and their defaults" and "Where we go further"):
 *
 * - after `idleBeforePingMs` (10 s) without hearing from the peer, send an
 *   XEP-0199 ping (§4.2, server to server);
 * - if nothing is heard within `pingTimeoutMs` (20 s) more, the stream is
 *   dead (event `peer-unresponsive`, close reason "ping timeout"): a silent
 *   peer is noticed within 30 s of its last sign of life, never a
 *   15-minute blackout;
 * - anything heard from the peer ends the silence and cancels the wait;
 * - after `idleCloseMs` (600 s) without a stanza either way, close with
 *   reason "idle" (the seeds' "closed after 10 minutes of inactivity").
 *   Pings and their answers are not stanzas here, or the pings would keep
 *   every idle stream up for ever.
 *
 * Pure: time comes in as arguments, nothing runs by itself. The caller keeps
 * one timer at `nextDeadline()` and calls `tick(now)` when it fires; events
 * only move deadlines later, so the caller need not reset the timer on each
 * stanza: when it fires early, `tick` returns `none` and `nextDeadline()`
 * says when to look again.
 *
 * What "heard" means is the caller's, and it differs by direction. An
 * incoming stream: any bytes the peer sends on it (stanzas, whitespace
 * keepalives). An outgoing stream: RFC 6120 §4.5, server streams carry one
 * direction, so the peer sends nothing on it but the answer to our ping
 * arrives on the peer's own stream to us (or on this one with XEP-0288
 * bidirectional streams); route that `type='result'` (or `error`: the peer
 * answered) for our ping id to `heard()` of this stream.
 */

export interface LivenessOptions {
  /** Silence before a ping. */
  readonly idleBeforePingMs: number;
  /** Time for anything to be heard after the ping was sent. */
  readonly pingTimeoutMs: number;
  /** Time without a stanza either way before the stream is closed as idle. */
  readonly idleCloseMs: number;
}

export const DEFAULT_LIVENESS: LivenessOptions = { idleBeforePingMs: 10_000, pingTimeoutMs: 20_000, idleCloseMs: 600_000 };

export type LivenessAction =
  /** Nothing is due. */
  | 'none'
  /** Send an XEP-0199 ping now (the machine counts it as sent at this `now`). */
  | 'ping'
  /** Nothing heard since the ping: close the stream, reason "ping timeout"; replace it and send or bounce its queue. */
  | 'dead'
  /** No stanza for the idle timeout: close the stream, reason "idle". */
  | 'idle';

export type LivenessState = 'listening' | 'awaiting-pong' | 'dead' | 'idle';

export class StreamLiveness {
  readonly options: LivenessOptions;
  private lastHeard: number;
  private lastStanza: number;
  private pingSentAt: number | undefined;
  private ended: 'dead' | 'idle' | undefined;

  /** `now`: when the stream became ready (it was just heard from, and is not idle yet). */
  constructor(now: number, options: Partial<LivenessOptions> = {}) {
    this.options = { ...DEFAULT_LIVENESS, ...options };
    const { idleBeforePingMs, pingTimeoutMs, idleCloseMs } = this.options;
    if (!(idleBeforePingMs > 0 && pingTimeoutMs > 0 && idleCloseMs > 0)) throw new RangeError('liveness intervals must be positive');
    this.lastHeard = now;
    this.lastStanza = now;
  }

  get state(): LivenessState {
    return this.ended ?? (this.pingSentAt === undefined ? 'listening' : 'awaiting-pong');
  }

  /** The peer showed it is alive (see the header for what counts per direction). */
  heard(now: number): void {
    if (this.ended) return;
    this.lastHeard = Math.max(this.lastHeard, now);
    this.pingSentAt = undefined;
  }

  /**
   * A ping went out that the machine did not ask for (a checkpoint,
   * sent-window.ts): the wait for an answer starts now, unless one already
   * runs. Without this a peer that stops while stanzas flow, whose last
   * checkpoint goes unanswered, would get 10 s more before the machine's own
   * ping and 20 s after it: up to 30 s from that unanswered ping.
   */
  pinged(now: number): void {
    if (this.ended || this.pingSentAt !== undefined) return;
    this.pingSentAt = now;
  }

  /** A stanza went either way (not a ping nor its answer). A stanza received is also `heard`. */
  stanza(now: number, direction: 'received' | 'sent'): void {
    if (this.ended) return;
    this.lastStanza = Math.max(this.lastStanza, now);
    if (direction === 'received') this.heard(now);
  }

  /** What is due at `now`. `dead` and `idle` are final: every later tick is `none`. */
  tick(now: number): LivenessAction {
    if (this.ended) return 'none';
    if (this.pingSentAt !== undefined && now >= this.pingSentAt + this.options.pingTimeoutMs) return this.end('dead');
    if (now >= this.lastStanza + this.options.idleCloseMs) return this.end('idle');
    if (this.pingSentAt === undefined && now >= this.lastHeard + this.options.idleBeforePingMs) {
      this.pingSentAt = now;
      return 'ping';
    }
    return 'none';
  }

  /** When `tick` may next return something other than `none`; undefined once the stream has ended. */
  nextDeadline(): number | undefined {
    if (this.ended) return undefined;
    const liveness = this.pingSentAt === undefined ? this.lastHeard + this.options.idleBeforePingMs : this.pingSentAt + this.options.pingTimeoutMs;
    return Math.min(liveness, this.lastStanza + this.options.idleCloseMs);
  }

  private end(reason: 'dead' | 'idle'): LivenessAction {
    this.ended = reason;
    this.pingSentAt = undefined;
    return reason;
  }
}

/**
 * The ping itself, XEP-0199 §4.2 (server to server): an iq get from our
 * domain to the peer's, with an id the caller keeps to recognize the answer.
 */
export function pingStanza(from: string, to: string, id: string): string {
  return xml('iq', { from, to, id, type: 'get' }, xml('ping', { xmlns: NS_PING })).toString();
}
