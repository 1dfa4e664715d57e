import type { WireTableEntry } from './routing-messages.js';

/**
 * Sessions of this member whose call bridge has not been told `<handshake/>`
 * yet, because the leader may not know them: a stanza another member sends
 * to a call bridge that has just connected here would otherwise reach the
 * leader before this member's attach report and bounce, which a single node
 * never does. A session is ready once the leader's session table lists it
 * (or this member leads); after `timeoutMs` it is let in anyway, since a
 * cluster without a leader bounces nothing meanwhile.
 */
export class AttachWaits {
  private readonly pending = new Map<string, { since: number; ready: () => void; timer: NodeJS.Timeout }>();

  constructor(private readonly timeoutMs: number) {}

  add(address: string, since: number, ready: () => void): void {
    this.drop(address);
    const timer = setTimeout(() => this.release(address), this.timeoutMs);
    timer.unref();
    this.pending.set(address, { since, ready, timer });
  }

  /** The leader's table arrived: every pending session it lists is known cluster-wide. */
  table(self: string, sessions: readonly WireTableEntry[]): void {
    if (this.pending.size === 0) return;
    for (const s of sessions) {
      const p = this.pending.get(s.address);
      if (p && s.node === self && s.since === p.since) this.release(s.address);
    }
  }

  /** This member leads: it knows its own sessions. */
  releaseAll(): void {
    for (const address of [...this.pending.keys()]) this.release(address);
  }

  /** The session ended before it was ready: nobody is told anything. */
  drop(address: string): void {
    const p = this.pending.get(address);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(address);
  }

  private release(address: string): void {
    const p = this.pending.get(address);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(address);
    p.ready();
  }
}
