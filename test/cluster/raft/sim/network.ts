/**
 * The simulated network: each message is delayed, and may be dropped,
 * duplicated or overtaken by a later one; links can be cut one way or both.
 * All decisions come from the simulation's seeded generator.
 */
import type { Message, NodeId } from '../../../../cluster/raft/messages.js';
import type { RandomSource } from '../../../../cluster/raft/prng.js';

export interface NetworkFaults {
  /** Probability a message is lost. */
  readonly dropRate: number;
  /** Probability a message arrives twice. */
  readonly duplicateRate: number;
  /** Usual delay range, in simulation time units (a tick is 10). */
  readonly minDelay: number;
  readonly maxDelay: number;
  /** Probability of a long delay (up to longDelay), which reorders messages. */
  readonly slowRate: number;
  readonly longDelay: number;
}

export const CALM: NetworkFaults = { dropRate: 0, duplicateRate: 0, minDelay: 1, maxDelay: 5, slowRate: 0, longDelay: 0 };

export class SimNetwork {
  private readonly blocked = new Set<string>();
  faults: NetworkFaults;
  sent = 0;
  dropped = 0;
  duplicated = 0;

  constructor(
    private readonly random: RandomSource,
    faults: NetworkFaults,
  ) {
    this.faults = faults;
  }

  /** When each copy of `m` arrives (empty: lost). */
  deliveryTimes(m: Message, now: number): number[] {
    this.sent++;
    if (this.isBlocked(m.from, m.to) || this.random.next() < this.faults.dropRate) {
      this.dropped++;
      return [];
    }
    const times = [now + this.delay()];
    if (this.random.next() < this.faults.duplicateRate) {
      this.duplicated++;
      times.push(now + this.delay());
    }
    return times;
  }

  private delay(): number {
    const f = this.faults;
    if (f.slowRate > 0 && this.random.next() < f.slowRate) return f.minDelay + this.random.int(f.longDelay + 1);
    return f.minDelay + this.random.int(f.maxDelay - f.minDelay + 1);
  }

  isBlocked(from: NodeId, to: NodeId): boolean {
    return this.blocked.has(`${from}>${to}`);
  }

  /** Splits the nodes into two sides that cannot talk (symmetric partition). */
  partition(side: readonly NodeId[], all: readonly NodeId[]): void {
    for (const a of side) {
      for (const b of all) {
        if (side.includes(b)) continue;
        this.blocked.add(`${a}>${b}`);
        this.blocked.add(`${b}>${a}`);
      }
    }
  }

  /** Messages from `from` to `to` are lost; the other direction still works. */
  cutOneWay(from: NodeId, to: NodeId): void {
    this.blocked.add(`${from}>${to}`);
  }

  heal(): void {
    this.blocked.clear();
  }

  describe(): string {
    return this.blocked.size === 0 ? 'healed' : [...this.blocked].sort().join(' ');
  }
}
