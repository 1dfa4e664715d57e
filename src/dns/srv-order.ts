import type { SrvRecord } from './zone.js';

/**
 * The order in which a client tries the targets of one SRV name, as RFC 2782
 * ("Usage rules") prescribes: lowest priority first; within one priority, a
 * weighted random choice, repeated until every record is placed. Pure: the
 * randomness comes in as `random`, so a seeded source replays an order.
 */

/** A uniform float in [0, 1), like Math.random. */
export type RandomFloat = () => number;

/**
 * RFC 2782, "Target": a single record whose target is "." means the service
 * is decidedly not available at this domain. Node's resolver reports the
 * root name as "" (c-ares strips the trailing dot), so both spellings count.
 */
export function serviceNotAvailable(records: readonly SrvRecord[]): boolean {
  return records.length === 1 && isRoot(records[0]!.target);
}

function isRoot(target: string): boolean {
  return target === '' || target === '.';
}

/**
 * Every record, ordered for connection attempts. An empty array when the
 * answer says the service is not available (RFC 2782: "." target). The input
 * is not changed.
 */
export function orderSrvRecords(records: readonly SrvRecord[], random: RandomFloat = Math.random): SrvRecord[] {
  if (serviceNotAvailable(records)) return [];
  // A "." among other records is malformed; it names no host, so it is never tried.
  const usable = records.filter((r) => !isRoot(r.target));
  const byPriority = new Map<number, SrvRecord[]>();
  for (const r of usable) {
    const group = byPriority.get(r.priority) ?? [];
    group.push(r);
    byPriority.set(r.priority, group);
  }
  // RFC 2782, "Priority": a client MUST attempt the lowest-numbered priority it can reach first.
  const priorities = [...byPriority.keys()].sort((a, b) => a - b);
  return priorities.flatMap((p) => orderByWeight(byPriority.get(p)!, random));
}

/**
 * RFC 2782, "Weight" and "Usage rules": arrange the records not yet ordered
 * in any order, except that all weight-0 records come first; compute the sum
 * of the weights and each record's running sum; choose a uniform random
 * number between 0 and the sum inclusive; take the first record whose running
 * sum is greater than or equal to it. Remove it and repeat until none are
 * left. A weight-0 record is thus chosen only when the number is 0: rarely
 * when others weigh something.
 *
 * "Any order" is a shuffle here: when every record weighs 0 (the seeds'
 * `SRV 0 0 5223 ...` for each node) the first weight-0 record always wins,
 * so a fixed arrangement would send every call bridge to the same node.
 */
export function orderByWeight(records: readonly SrvRecord[], random: RandomFloat = Math.random): SrvRecord[] {
  const left = [...shuffle(records.filter((r) => r.weight === 0), random), ...records.filter((r) => r.weight !== 0)];
  const ordered: SrvRecord[] = [];
  while (left.length > 0) {
    const sum = left.reduce((s, r) => s + r.weight, 0);
    // Weights are integers (0..65535): an integer uniform in [0, sum], both ends included.
    const pick = Math.min(sum, Math.floor(random() * (sum + 1)));
    let running = 0;
    let index = left.length - 1;
    for (let i = 0; i < left.length; i++) {
      running += left[i]!.weight;
      if (running >= pick) {
        index = i;
        break;
      }
    }
    ordered.push(left.splice(index, 1)[0]!);
  }
  return ordered;
}

/** Fisher-Yates, on a copy. */
function shuffle<T>(items: T[], random: RandomFloat): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.min(i, Math.floor(random() * (i + 1)));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
