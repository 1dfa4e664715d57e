import type { PeerId } from '../transport/transport.js';

/** Origin incarnations remembered per origin member: a restart makes a new one. */
const EPOCHS_PER_ORIGIN = 4;
/** Destinations remembered per origin incarnation, least recently used dropped first. */
export const DEFAULT_DESTINATIONS_PER_EPOCH = 4096;

/**
 * Which stanzas are settled already, so a resent copy is dropped: for each
 * (origin incarnation, destination address), the highest sequence number
 * settled. One number per pair is enough because the leader keeps each
 * destination's stanzas in their origin's order, and a holder accepts
 * deliveries only from the leader it last reported to, in the order sent:
 * whatever arrives with a number at or below the highest is a copy.
 *
 * Bounded: a few incarnations per origin member and a fixed number of
 * destinations per incarnation. A pair that fell out is only a risk for a
 * copy still in flight after thousands of other destinations were used.
 */
export class DedupWindow {
  private readonly origins = new Map<PeerId, Map<string, Map<string, number>>>();
  /** The pair settled last and its map: a run of stanzas of one pair skips the lookups and the LRU move. */
  private last: { origin: PeerId; epoch: string; destination: string; destinations: Map<string, number> } | undefined;

  constructor(private readonly destinationsPerEpoch = DEFAULT_DESTINATIONS_PER_EPOCH) {}

  isSettled(origin: PeerId, epoch: string, destination: string, seq: number): boolean {
    const last = this.last;
    const destinations = last !== undefined && last.origin === origin && last.epoch === epoch ? last.destinations : this.origins.get(origin)?.get(epoch);
    const highest = destinations?.get(destination);
    return highest !== undefined && seq <= highest;
  }

  settle(origin: PeerId, epoch: string, destination: string, seq: number): void {
    const last = this.last;
    if (last !== undefined && last.destination === destination && last.origin === origin && last.epoch === epoch) {
      // Already the most recently settled key: setting it again keeps it last.
      if (last.destinations.get(destination)! < seq) last.destinations.set(destination, seq);
      return;
    }
    let epochs = this.origins.get(origin);
    if (epochs === undefined) {
      epochs = new Map();
      this.origins.set(origin, epochs);
    }
    let destinations = epochs.get(epoch);
    if (destinations === undefined) {
      destinations = new Map();
      epochs.set(epoch, destinations);
      if (epochs.size > EPOCHS_PER_ORIGIN) epochs.delete(epochs.keys().next().value!);
    }
    const highest = destinations.get(destination);
    if (highest !== undefined && highest >= seq) return;
    // Delete and set: Map order is insertion order, so the first key is the least recently settled.
    destinations.delete(destination);
    destinations.set(destination, seq);
    if (destinations.size > this.destinationsPerEpoch) destinations.delete(destinations.keys().next().value!);
    this.last = { origin, epoch, destination, destinations };
  }
}
