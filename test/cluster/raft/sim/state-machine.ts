/**
 * The simulator's replicated state machine: the ordered set of applied
 * proposal ids plus a rolling digest of every applied entry. Proposals are
 * `<client>:<seq>`; a retried proposal that commits twice applies once
 * (client id + sequence dedup), which the digest and id list make visible.
 */
import type { Entry } from '../../../../cluster/raft/messages.js';

const decoder = new TextDecoder();

export class SimStateMachine {
  appliedIndex = 0;
  digest = 0;
  readonly ids: string[] = [];
  private readonly seen = new Set<string>();
  duplicatesSuppressed = 0;

  apply(e: Entry): void {
    this.appliedIndex = e.index;
    this.digest = mix(this.digest, e.index, e.term, e.data);
    if (e.type !== 'normal' || e.data.length === 0) return;
    const id = decoder.decode(e.data);
    if (this.seen.has(id)) {
      this.duplicatesSuppressed++;
      return;
    }
    this.seen.add(id);
    this.ids.push(id);
  }

  has(id: string): boolean {
    return this.seen.has(id);
  }

  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify({ v: 1, appliedIndex: this.appliedIndex, digest: this.digest, ids: this.ids }));
  }

  static restore(data: Uint8Array): SimStateMachine {
    const sm = new SimStateMachine();
    if (data.length === 0) return sm;
    const parsed = JSON.parse(decoder.decode(data)) as { appliedIndex: number; digest: number; ids: string[] };
    sm.appliedIndex = parsed.appliedIndex;
    sm.digest = parsed.digest;
    for (const id of parsed.ids) {
      sm.ids.push(id);
      sm.seen.add(id);
    }
    return sm;
  }
}

/** FNV-1a style mixing; collisions would only hide a bug, never invent one. */
export function mix(h: number, index: number, term: number, data: Uint8Array): number {
  h = Math.imul(h ^ index, 16777619) >>> 0;
  h = Math.imul(h ^ term, 16777619) >>> 0;
  for (let i = 0; i < data.length; i++) h = Math.imul(h ^ data[i]!, 16777619) >>> 0;
  return h;
}

export function entryKey(e: Entry): string {
  return `${e.type}:${decoder.decode(e.data)}`;
}
