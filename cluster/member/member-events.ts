/**
 * What a RaftMember tells the layers above: role and leader changes,
 * results of applied commands, membership changes, and its own removal.
 * Listeners run synchronously inside the member's loop; a listener that calls
 * back into the member is queued behind the current Ready (raft-member.ts).
 */
import type { ConfChange } from '../raft/membership.js';
import type { NodeId, Role } from '../raft/messages.js';
import type { ApplyResult } from '../state/cluster-state.js';

export interface MemberEvents {
  role: (e: { readonly role: Role; readonly leader: NodeId; readonly term: number; readonly at: Date }) => void;
  applied: (e: { readonly index: number; readonly result: ApplyResult }) => void;
  membership: (e: { readonly index: number; readonly change: ConfChange }) => void;
  /** The replicated state changed (entries applied or a snapshot restored); readers compare what they care about. */
  state: (e: { readonly applied: number }) => void;
  /** This node is no longer in the configuration; the member has stopped its loop. */
  removed: (e: { readonly reason: 'applied' | 'notice' }) => void;
}

export class MemberListeners {
  private readonly handlers: { [E in keyof MemberEvents]: MemberEvents[E][] } = { role: [], applied: [], membership: [], state: [], removed: [] };

  on<E extends keyof MemberEvents>(event: E, handler: MemberEvents[E]): () => void {
    const list = this.handlers[event] as MemberEvents[E][];
    list.push(handler);
    return () => {
      const i = list.indexOf(handler);
      if (i >= 0) list.splice(i, 1);
    };
  }

  emit<E extends keyof MemberEvents>(event: E, arg: Parameters<MemberEvents[E]>[0]): void {
    for (const h of [...this.handlers[event]]) (h as (a: typeof arg) => void)(arg);
  }
}
