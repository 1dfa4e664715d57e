import { randomBytes } from 'node:crypto';
import type { HoldReason, Route, Stanza } from '../../src/router/router.js';
import { ReleasingMap } from './releasing-map.js';

/** One stanza a local session sent, kept until the cluster confirms it settled. */
export interface OriginEntry {
  readonly seq: number;
  readonly stanza: Stanza;
  /** Where an answer or a bounce goes: the sender's route. */
  readonly route: Route;
  readonly bytes: number;
}

export interface UnackedLimits {
  readonly stanzas: number;
  readonly bytes: number;
}

export const DEFAULT_UNACKED_LIMITS: UnackedLimits = { stanzas: 10_000, bytes: 8 * 1024 * 1024 };

/**
 * The origin side of "nothing lost": every stanza a local session sends gets
 * the next number of this incarnation (a random epoch, so a restarted node is
 * never mistaken for its former self) and stays here until the destination
 * member confirms it was written, or the leader that it was answered, bounced
 * or dropped. A new leader gets all of it again, in order.
 *
 * Bounded by count and bytes: over either, every session that sends is held
 * (Route.hold) until confirmations bring the buffer under both again. A
 * stanza that arrives while full is still kept, never dropped; the overshoot
 * is at most one stanza per local session, as each is held after sending.
 */
export class OriginBuffer {
  readonly epoch: string = randomBytes(8).toString('hex');
  private nextSeq = 1;
  private readonly entries = new ReleasingMap<OriginEntry>();
  private bytesKept = 0;
  private readonly heldSenders = new Set<Route>();
  /** Compared by identity, as every HoldReason. */
  private readonly fullReason: HoldReason = Object.freeze({ reason: 'cluster forwarding buffer full' });

  constructor(private readonly limits: UnackedLimits) {}

  add(stanza: Stanza, route: Route): OriginEntry {
    // UTF-16 length as the byte count: cheap, and within 3x of the UTF-8 size.
    const entry: OriginEntry = { seq: this.nextSeq++, stanza, route, bytes: stanza.raw.length };
    this.entries.set(entry.seq, entry);
    this.bytesKept += entry.bytes;
    if (this.full && !this.heldSenders.has(route)) {
      this.heldSenders.add(route);
      route.hold(this.fullReason);
    }
    return entry;
  }

  get(seq: number): OriginEntry | undefined {
    return this.entries.get(seq);
  }

  /** Settles one stanza: the entry if it was still kept, else undefined (a duplicate confirmation). */
  take(seq: number): OriginEntry | undefined {
    const entry = this.entries.take(seq);
    if (entry === undefined) return undefined;
    this.bytesKept -= entry.bytes;
    if (this.heldSenders.size > 0 && !this.full) {
      const senders = [...this.heldSenders];
      this.heldSenders.clear();
      for (const r of senders) r.release(this.fullReason);
    }
    return entry;
  }

  /** Unconfirmed stanzas, oldest first: what a new leader is sent. */
  unconfirmed(): IterableIterator<OriginEntry> {
    return this.entries.values();
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.bytesKept;
  }

  get full(): boolean {
    return this.entries.size >= this.limits.stanzas || this.bytesKept >= this.limits.bytes;
  }

  /** Sessions held because the buffer is full. */
  get holding(): number {
    return this.heldSenders.size;
  }
}
