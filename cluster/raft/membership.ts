/**
 * Single-server membership changes (§4.1 of the Raft dissertation): add a
 * non-voting learner, promote it to voter, remove a node. One change at a
 * time, so any majority of the old configuration overlaps any majority of the
 * new one.
 */
import type { ConfState, NodeId } from './messages.js';

export type ConfChangeType = 'add-learner' | 'promote' | 'remove' | 'add-voter';

export interface ConfChange {
  readonly type: ConfChangeType;
  readonly node: NodeId;
  /** Caller data carried with the change, e.g. the member's address. Opaque to the core. */
  readonly context?: string;
}

export const EMPTY_CONF_STATE: ConfState = { voters: [], learners: [] };

/** Why `change` cannot apply to `conf`, or undefined if it can. */
export function confChangeProblem(conf: ConfState, change: ConfChange): string | undefined {
  if (change.node === '') return 'node id is empty';
  const isVoter = conf.voters.includes(change.node);
  const isLearner = conf.learners.includes(change.node);
  switch (change.type) {
    case 'add-learner':
      return isVoter || isLearner ? `${change.node} is already a member` : undefined;
    case 'add-voter':
      // Only for bootstrapping a cluster from its initial entries; live clusters go through a learner.
      return isVoter || isLearner ? `${change.node} is already a member` : undefined;
    case 'promote':
      return isLearner ? undefined : `${change.node} is not a learner`;
    case 'remove':
      if (!isVoter && !isLearner) return `${change.node} is not a member`;
      if (isVoter && conf.voters.length === 1) return `${change.node} is the last voter`;
      return undefined;
  }
}

/** The configuration after `change`; an inapplicable change leaves it as it was. */
export function applyConfChange(conf: ConfState, change: ConfChange): ConfState {
  if (confChangeProblem(conf, change) !== undefined) return conf;
  const voters = conf.voters.filter((id) => id !== change.node);
  const learners = conf.learners.filter((id) => id !== change.node);
  switch (change.type) {
    case 'add-learner':
      learners.push(change.node);
      break;
    case 'add-voter':
    case 'promote':
      voters.push(change.node);
      break;
    case 'remove':
      break;
  }
  return { voters: voters.sort(), learners: learners.sort() };
}

const TYPES: readonly ConfChangeType[] = ['add-learner', 'promote', 'remove', 'add-voter'];

export function encodeConfChange(change: ConfChange): Uint8Array {
  const body: { type: ConfChangeType; node: NodeId; context?: string } = { type: change.type, node: change.node };
  if (change.context !== undefined) body.context = change.context;
  return new TextEncoder().encode(JSON.stringify(body));
}

/** Decodes a conf-change entry; throws on anything that is not one (a corrupt log must not be half-applied). */
export function decodeConfChange(data: Uint8Array): ConfChange {
  const parsed: unknown = JSON.parse(new TextDecoder().decode(data));
  if (typeof parsed !== 'object' || parsed === null) throw new TypeError('conf change is not an object');
  const { type, node, context } = parsed as Record<string, unknown>;
  if (typeof type !== 'string' || !TYPES.includes(type as ConfChangeType)) throw new TypeError('conf change type is invalid');
  if (typeof node !== 'string') throw new TypeError('conf change node is invalid');
  if (context !== undefined && typeof context !== 'string') throw new TypeError('conf change context is invalid');
  return context === undefined ? { type: type as ConfChangeType, node } : { type: type as ConfChangeType, node, context };
}

export function isMember(conf: ConfState, id: NodeId): boolean {
  return conf.voters.includes(id) || conf.learners.includes(id);
}
