/**
 * The member layer's own protocol on `control` frames: joining, membership
 * requests forwarded to the leader, the leader's view of its followers, and
 * the notice a removed member gets. One JSON document per frame with a
 * version field; every field is checked on decode, so a malformed or hostile
 * frame is refused (ControlDecodeError) before anything acts on it.
 *
 * Requests carry a request id (`rid`) chosen by whoever asks; replies carry
 * it back. A member that is not the leader relays a request to the leader and
 * the replies back to the asker, so a joining node may dial any member.
 */

import type { S2sStreamInfo } from '../../src/s2s/server-streams.js';

export const CONTROL_VERSION = 1;

export class ControlDecodeError extends Error {
  override readonly name = 'ControlDecodeError';
}

export interface JoinerInfo {
  readonly id: string;
  readonly name: string;
  /** `host:port` of its cluster link. */
  readonly cluster: string;
  /** `host:port` it serves call bridges on. */
  readonly component: string;
}

/** What the leader knows of one member, relative to its own clock (no clock skew between nodes). */
export interface ViewEntry {
  readonly id: string;
  readonly match: number;
  readonly lag: number;
  /** How long ago the leader last heard from it; null if never (or itself). */
  readonly agoMs: number | null;
}

export type ControlMessage =
  | {
      readonly type: 'join-request';
      readonly rid: string;
      readonly joiner: JoinerInfo;
      readonly domain: string | null;
      /** Travels only over the mutually authenticated link; never logged. */
      readonly callbridges: readonly { readonly name: string; readonly secret: string }[];
    }
  /**
   * The leader accepted the join and removed any old entry of this id: the
   * joiner starts its Raft loop. Entries up to `index` are history (an old
   * incarnation's removal there is not this node's).
   */
  | { readonly type: 'join-admitted'; readonly rid: string; readonly index: number }
  | { readonly type: 'join-result'; readonly rid: string; readonly ok: true; readonly peers: number; readonly leader: string }
  | { readonly type: 'join-result'; readonly rid: string; readonly ok: false; readonly error: string }
  | { readonly type: 'member-request'; readonly rid: string; readonly op: 'remove'; readonly target: string }
  | { readonly type: 'member-result'; readonly rid: string; readonly ok: true; readonly name: string }
  /** `retry: 'leader-moved'`: the leader was the target and handed leadership over; ask the new one. */
  | { readonly type: 'member-result'; readonly rid: string; readonly ok: false; readonly error: string; readonly retry?: 'leader-moved' }
  | { readonly type: 'cluster-view'; readonly term: number; readonly members: readonly ViewEntry[] }
  /** From the leader to a member whose removal it committed: it may not hear the commit otherwise. */
  | { readonly type: 'removed'; readonly id: string; readonly index: number }
  /** `xmpp federation connections` on any member: each other member answers with the server streams it holds. */
  | { readonly type: 'federation-rows-request'; readonly rid: string }
  | { readonly type: 'federation-rows'; readonly rid: string; readonly node: string; readonly rows: readonly S2sStreamInfo[] };

export type ControlType = ControlMessage['type'];

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeControl(m: ControlMessage): Uint8Array {
  return encoder.encode(JSON.stringify({ v: CONTROL_VERSION, ...m }));
}

export function decodeControl(bytes: Uint8Array): ControlMessage {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(bytes));
  } catch {
    throw new ControlDecodeError('control message is not JSON');
  }
  if (typeof raw !== 'object' || raw === null) throw new ControlDecodeError('control message is not an object');
  const r = raw as Record<string, unknown>;
  if (r.v !== CONTROL_VERSION) throw new ControlDecodeError(`control message version ${JSON.stringify(r.v)} is not supported`);
  switch (r.type) {
    case 'join-request':
      return {
        type: r.type,
        rid: rid(r),
        joiner: joiner(r.joiner),
        domain: r.domain === null ? null : str(r, 'domain'),
        callbridges: list(r.callbridges, 'callbridges', (c) => ({ name: str(c, 'name'), secret: str(c, 'secret') })),
      };
    case 'join-admitted':
      return { type: r.type, rid: rid(r), index: int(r, 'index') };
    case 'join-result':
      if (r.ok === true) return { type: r.type, rid: rid(r), ok: true, peers: int(r, 'peers'), leader: str(r, 'leader') };
      if (r.ok === false) return { type: r.type, rid: rid(r), ok: false, error: str(r, 'error') };
      throw new ControlDecodeError("field 'ok' must be a boolean");
    case 'member-request':
      if (r.op !== 'remove') throw new ControlDecodeError("field 'op' must be remove");
      return { type: r.type, rid: rid(r), op: r.op, target: str(r, 'target') };
    case 'member-result':
      if (r.ok === true) return { type: r.type, rid: rid(r), ok: true, name: str(r, 'name') };
      if (r.ok !== false) throw new ControlDecodeError("field 'ok' must be a boolean");
      if (r.retry !== undefined && r.retry !== 'leader-moved') throw new ControlDecodeError("field 'retry' is invalid");
      return r.retry === undefined
        ? { type: r.type, rid: rid(r), ok: false, error: str(r, 'error') }
        : { type: r.type, rid: rid(r), ok: false, error: str(r, 'error'), retry: r.retry };
    case 'cluster-view':
      return {
        type: r.type,
        term: int(r, 'term'),
        members: list(r.members, 'members', (e) => ({
          id: str(e, 'id'),
          match: int(e, 'match'),
          lag: int(e, 'lag'),
          agoMs: e.agoMs === null ? null : int(e, 'agoMs'),
        })),
      };
    case 'removed':
      return { type: r.type, id: str(r, 'id'), index: int(r, 'index') };
    case 'federation-rows-request':
      return { type: r.type, rid: rid(r) };
    case 'federation-rows':
      return { type: r.type, rid: rid(r), node: str(r, 'node'), rows: list(r.rows, 'rows', streamInfo) };
    default:
      throw new ControlDecodeError(`unknown control message type ${JSON.stringify(r.type)}`);
  }
}

const MAX_STRING = 64 * 1024;
const MAX_LIST = 10_000;

function str(r: Record<string, unknown>, k: string): string {
  const v = r[k];
  if (typeof v !== 'string' || v.length > MAX_STRING) throw new ControlDecodeError(`field '${k}' must be a string`);
  return v;
}

function int(r: Record<string, unknown>, k: string): number {
  const v = r[k];
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw new ControlDecodeError(`field '${k}' must be a non-negative integer`);
  return v as number;
}

function rid(r: Record<string, unknown>): string {
  const v = str(r, 'rid');
  if (v.length === 0 || v.length > 200) throw new ControlDecodeError("field 'rid' must have 1–200 characters");
  return v;
}

function joiner(v: unknown): JoinerInfo {
  if (typeof v !== 'object' || v === null) throw new ControlDecodeError("field 'joiner' must be an object");
  const j = v as Record<string, unknown>;
  const id = str(j, 'id');
  if (id.length === 0) throw new ControlDecodeError("field 'joiner.id' is empty");
  return { id, name: str(j, 'name'), cluster: str(j, 'cluster'), component: str(j, 'component') };
}

function streamInfo(r: Record<string, unknown>): S2sStreamInfo {
  if (r.direction !== 'incoming' && r.direction !== 'outgoing') throw new ControlDecodeError("field 'direction' must be incoming or outgoing");
  if (r.auth !== 'sasl' && r.auth !== 'dialback') throw new ControlDecodeError("field 'auth' must be sasl or dialback");
  const tls = r.tls === null ? null : str(r, 'tls');
  return {
    id: str(r, 'id'),
    direction: r.direction,
    localDomain: str(r, 'localDomain'),
    remoteDomain: str(r, 'remoteDomain'),
    peerAddress: str(r, 'peerAddress'),
    tls,
    auth: r.auth,
    lastActivity: int(r, 'lastActivity'),
  };
}

function list<T>(v: unknown, what: string, item: (r: Record<string, unknown>) => T): T[] {
  if (!Array.isArray(v) || v.length > MAX_LIST) throw new ControlDecodeError(`field '${what}' must be a list`);
  return v.map((x) => {
    if (typeof x !== 'object' || x === null) throw new ControlDecodeError(`field '${what}' holds a non-object`);
    return item(x as Record<string, unknown>);
  });
}
