import type { Element } from '@xmpp/xml';
import type { HoldReason, Route, Stanza, StanzaName } from '../../src/router/router.js';
import { domainOf } from '../../src/xmpp/jid.js';
import { parseStanza } from '../../src/xmpp/stanza.js';

/**
 * A Route kept in memory, for the router behaviour suite: it records what it
 * is given and told, and its queue is "full" when the test says so. Route is
 * our own interface; the real peers are tested over sockets in routing.test.ts.
 */
export class MemoryRoute implements Route {
  readonly received: string[] = [];
  replacedTimes = 0;
  /** While true, deliver() reports the queue over its mark. */
  full = false;
  readonly holds = new Set<HoldReason>();
  private drainCallbacks: Array<() => void> = [];

  constructor(readonly address: string) {}

  deliver(raw: string): boolean {
    this.received.push(raw);
    return !this.full;
  }

  replaced(): void {
    this.replacedTimes++;
  }

  onDrained(callback: () => void): void {
    this.drainCallbacks.push(callback);
  }

  hold(reason: HoldReason): void {
    this.holds.add(reason);
  }

  release(reason: HoldReason): void {
    this.holds.delete(reason);
  }

  get held(): boolean {
    return this.holds.size > 0;
  }

  /** Callbacks waiting for this route to drain. */
  get drainWaiters(): number {
    return this.drainCallbacks.length;
  }

  /** The queue emptied: tell whoever waits. */
  drain(): void {
    this.full = false;
    const callbacks = this.drainCallbacks;
    this.drainCallbacks = [];
    for (const cb of callbacks) cb();
  }

  /** The last stanza received, parsed. */
  last(): Element {
    const raw = this.received.at(-1);
    if (raw === undefined) throw new Error(`${this.address} received nothing`);
    return parseStanza(raw);
  }
}

/** A stanza as a session hands it to the router: head checked, original text kept. */
export function stanza(raw: string): Stanza {
  const el = parseStanza(raw);
  const attrs: Record<string, string> = {};
  for (const [k, v] of Object.entries(el.attrs)) attrs[k] = String(v);
  return { name: el.name as StanzaName, attrs, raw, toDomain: domainOf(attrs.to ?? '') };
}
