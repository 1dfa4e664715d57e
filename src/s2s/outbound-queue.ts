import type { Stanza } from '../router/router.js';
import { StanzaError } from '../xmpp/errors.js';
import { domainOf } from '../xmpp/jid.js';
import { errorReply, parseStanza } from '../xmpp/stanza.js';
import { SEND_HIGH_WATER } from '../xmpp/xmpp-stream.js';

/**
 * The stanzas waiting for an outgoing stream to one remote domain while it
 * is being set up (DNS, TCP, STARTTLS, dialback or SASL). Bounded in count
 * and bytes (federation.md, "Errors on the wire"): past the bound the OLDEST
 * leave and bounce with `<resource-constraint/>` (type `wait`, RFC 6120
 * §8.3.3.18), so a peer that never comes up costs a fixed amount of memory
 * and the newest traffic, the one its senders still wait on, is kept.
 *
 * Nothing leaves silently: every stanza that leaves other than by `drain()`
 * is either a bounce (its reply, built by src/xmpp's `errorReply`, ready to
 * route back to the sender) or, for a stanza that must get no error, listed
 * in `dropped` for the caller to count and log: an error stanza (RFC 6120
 * §8.3.1: never answer an error with an error) or an iq result (§8.2.3: no
 * reply to a reply), the same rule as LocalRouter's bounce.
 *
 * Pure: no timers, no I/O. The stream code pushes, then drains when the
 * stream is ready, or fails all with the condition of connect-failure.ts.
 */

/** What the queue needs of a stanza: its head and its text. The router's `Stanza` is one. */
export interface QueuedStanza {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly raw: string;
}

/** A bounce to route back: the stanza that could not be delivered and the error reply for its sender. */
export interface Bounce {
  readonly stanza: QueuedStanza;
  /** Addresses swapped, same id, type error: a router `Stanza` from the remote JID to the sender. */
  readonly reply: Stanza;
}

/** What left the queue without being delivered. */
export interface Undelivered {
  readonly bounces: readonly Bounce[];
  /** Stanzas that must get no error (errors, iq results, no `from` to answer): drop and count them. */
  readonly dropped: readonly QueuedStanza[];
}

export interface OutboundQueueLimits {
  /** Stanzas waiting at most. */
  readonly maxStanzas: number;
  /** UTF-8 bytes of stanza text waiting at most. */
  readonly maxBytes: number;
}

/**
 * 1000 stanzas, 1 MiB: the byte bound is a stream's send high-water mark
 * (src/xmpp/xmpp-stream.ts), so a queue holds what one stream would buffer
 * before holding its senders, and it is 4× the largest stanza the parser
 * accepts (256 KiB), so any single stanza fits.
 */
export const DEFAULT_OUTBOUND_QUEUE_LIMITS: OutboundQueueLimits = { maxStanzas: 1000, maxBytes: SEND_HIGH_WATER };

const NOTHING: Undelivered = { bounces: [], dropped: [] };

interface Entry {
  readonly stanza: QueuedStanza;
  readonly bytes: number;
}

export class OutboundQueue {
  /** Oldest first, from `head` on; the slots before `head` are already gone. */
  private entries: Entry[] = [];
  private head = 0;
  private byteCount = 0;
  readonly limits: OutboundQueueLimits;

  constructor(
    /** The remote domain, for the error texts. */
    readonly domain: string,
    limits: Partial<OutboundQueueLimits> = {},
  ) {
    this.limits = { ...DEFAULT_OUTBOUND_QUEUE_LIMITS, ...limits };
    // Options come from code or validated settings: a zero bound would bounce everything.
    if (!(this.limits.maxStanzas >= 1 && this.limits.maxBytes >= 1)) throw new RangeError('outbound queue limits must be at least 1');
  }

  get size(): number {
    return this.entries.length - this.head;
  }

  get bytes(): number {
    return this.byteCount;
  }

  /**
   * Queues a stanza. Returns what it pushed out: the oldest stanzas, until
   * both bounds hold again, bounced with `<resource-constraint/>`. A stanza
   * larger than `maxBytes` by itself is refused (bounced) at once and pushes
   * nothing out: emptying the queue would not make it fit.
   */
  push(stanza: QueuedStanza): Undelivered {
    const bytes = Buffer.byteLength(stanza.raw, 'utf8');
    const full = new StanzaError('resource-constraint', `too many stanzas are waiting for the connection to ${this.domain}`);
    if (bytes > this.limits.maxBytes) return undelivered([stanza], full);
    this.entries.push({ stanza, bytes });
    this.byteCount += bytes;
    if (this.size <= this.limits.maxStanzas && this.byteCount <= this.limits.maxBytes) return NOTHING;
    const evicted: QueuedStanza[] = [];
    while (this.size > this.limits.maxStanzas || this.byteCount > this.limits.maxBytes) evicted.push(this.shift().stanza);
    this.compact();
    return undelivered(evicted, full);
  }

  /** The stream is ready: every waiting stanza, oldest first, to write in this order. The queue is empty after. */
  drain(): QueuedStanza[] {
    return this.takeAll();
  }

  /**
   * The stream could not be set up: everything waiting leaves, bounced with
   * `error` (remote-server-not-found, remote-server-timeout,
   * remote-connection-failed: connect-failure.ts `bounceError`; or
   * not-allowed when a policy change refused the domain).
   */
  failAll(error: StanzaError): Undelivered {
    const all = this.takeAll();
    return all.length === 0 ? NOTHING : undelivered(all, error);
  }

  /**
   * Takes `stanzas` out of the queue wherever they wait (a late pong proved
   * the peer read them on the stream they were first written to, so they
   * must not be written again: remote-route.ts). Returns how many were here.
   */
  withdraw(stanzas: ReadonlySet<QueuedStanza>): number {
    const before = this.size;
    const kept = this.entries.slice(this.head).filter((e) => !stanzas.has(e.stanza));
    if (kept.length === before) return 0;
    this.entries = kept;
    this.head = 0;
    this.byteCount = kept.reduce((n, e) => n + e.bytes, 0);
    return before - kept.length;
  }

  private shift(): Entry {
    const entry = this.entries[this.head]!;
    this.entries[this.head] = undefined as unknown as Entry;
    this.head++;
    this.byteCount -= entry.bytes;
    return entry;
  }

  private takeAll(): QueuedStanza[] {
    const out = this.entries.slice(this.head).map((e) => e.stanza);
    this.entries = [];
    this.head = 0;
    this.byteCount = 0;
    return out;
  }

  /** Drops the gone slots once they are most of the array: eviction stays O(1) amortized. */
  private compact(): void {
    if (this.head > 64 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}

/** Whether a stanza may get an error reply (RFC 6120 §8.3.1, §8.2.3); the same rule as LocalRouter's bounce. */
export function mayBounce(stanza: QueuedStanza): boolean {
  const type = stanza.attrs.type;
  if (type === 'error') return false;
  if (stanza.name === 'iq' && type === 'result') return false;
  return stanza.attrs.from !== undefined && stanza.attrs.from !== '';
}

/** Bounces what may be bounced, lists the rest as dropped. */
export function undelivered(stanzas: readonly QueuedStanza[], error: StanzaError): Undelivered {
  const bounces: Bounce[] = [];
  const dropped: QueuedStanza[] = [];
  for (const stanza of stanzas) {
    if (!mayBounce(stanza)) {
      dropped.push(stanza);
      continue;
    }
    const { from, to, id } = stanza.attrs;
    const attrs: Record<string, string> = { type: 'error', to: from! };
    if (to !== undefined) attrs.from = to;
    if (id !== undefined) attrs.id = id;
    const raw = errorReply(stanza.name, stanza.attrs, error);
    bounces.push({ stanza, reply: { name: stanza.name as Stanza['name'], attrs, raw, toDomain: domainOf(from!) } });
  }
  return { bounces, dropped };
}

/**
 * The head of a stanza known only by its text (what `Route.deliver(raw)`
 * receives): parsed with src/xmpp's `parseStanza`. The text was checked by
 * the stream parser already.
 */
export function queuedFromRaw(raw: string): QueuedStanza {
  const el = parseStanza(raw);
  return { name: el.name, attrs: el.attrs as Record<string, string>, raw };
}
