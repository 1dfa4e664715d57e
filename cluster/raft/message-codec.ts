/**
 * Raft messages on the wire between cluster peers: one JSON document per
 * message, entry and snapshot bytes in base64. Decoding checks every field,
 * so a damaged or hostile frame is refused with MessageDecodeError instead of
 * reaching the core (whose invariants assume well-formed input).
 */
import type { ConfState, Entry, Message, MessageType, Snapshot } from './messages.js';

export class MessageDecodeError extends Error {
  override readonly name = 'MessageDecodeError';
}

const WIRE_VERSION = 1;
const TYPES: readonly MessageType[] = [
  'app',
  'app-resp',
  'heartbeat',
  'heartbeat-resp',
  'vote',
  'pre-vote',
  'vote-resp',
  'pre-vote-resp',
  'snap',
  'timeout-now',
  'prop',
  'read-index',
  'read-index-resp',
  'transfer-leader',
];

const b64 = (data: Uint8Array) => Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');

export function encodeMessage(m: Message): Uint8Array {
  const wire: Record<string, unknown> = { ...m, v: WIRE_VERSION };
  if ('entries' in m) wire.entries = m.entries.map((e) => ({ index: e.index, term: e.term, type: e.type, data: b64(e.data) }));
  if (m.type === 'snap') wire.snapshot = { metadata: m.snapshot.metadata, data: b64(m.snapshot.data) };
  return new TextEncoder().encode(JSON.stringify(wire));
}

export function decodeMessage(bytes: Uint8Array): Message {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new MessageDecodeError('raft message is not JSON');
  }
  if (typeof raw !== 'object' || raw === null) throw new MessageDecodeError('raft message is not an object');
  const r = raw as Record<string, unknown>;
  if (r.v !== WIRE_VERSION) throw new MessageDecodeError(`raft message version ${JSON.stringify(r.v)} is not supported`);
  if (!TYPES.includes(r.type as MessageType)) throw new MessageDecodeError(`unknown raft message type ${JSON.stringify(r.type)}`);
  const type = r.type as MessageType;
  const base = { from: str(r, 'from'), to: str(r, 'to'), term: int(r, 'term') };
  switch (type) {
    case 'app':
      return { type, ...base, index: int(r, 'index'), logTerm: int(r, 'logTerm'), entries: entries(r.entries), commit: int(r, 'commit') };
    case 'app-resp':
      return { type, ...base, index: int(r, 'index'), reject: bool(r, 'reject'), rejectHint: int(r, 'rejectHint'), hintTerm: int(r, 'hintTerm') };
    case 'heartbeat':
      return { type, ...base, commit: int(r, 'commit'), context: optStr(r, 'context') };
    case 'heartbeat-resp':
      return { type, ...base, context: optStr(r, 'context') };
    case 'vote':
    case 'pre-vote':
      return { type, ...base, index: int(r, 'index'), logTerm: int(r, 'logTerm'), transfer: bool(r, 'transfer') };
    case 'vote-resp':
    case 'pre-vote-resp':
      return { type, ...base, reject: bool(r, 'reject') };
    case 'snap':
      return { type, ...base, snapshot: snapshot(r.snapshot) };
    case 'timeout-now':
      return { type, ...base };
    case 'prop':
      return { type, ...base, entries: entries(r.entries) };
    case 'read-index':
      return { type, ...base, context: str(r, 'context') };
    case 'read-index-resp':
      return { type, ...base, index: int(r, 'index'), context: str(r, 'context') };
    case 'transfer-leader':
      return { type, ...base, transferee: str(r, 'transferee') };
  }
}

function str(r: Record<string, unknown>, k: string): string {
  const v = r[k];
  if (typeof v !== 'string' || v.length > 1024) throw new MessageDecodeError(`raft message field ${k} must be a string`);
  return v;
}

function optStr(r: Record<string, unknown>, k: string): string | undefined {
  return r[k] === undefined ? undefined : str(r, k);
}

function int(r: Record<string, unknown>, k: string): number {
  const v = r[k];
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw new MessageDecodeError(`raft message field ${k} must be a non-negative integer`);
  return v as number;
}

function bool(r: Record<string, unknown>, k: string): boolean {
  if (typeof r[k] !== 'boolean') throw new MessageDecodeError(`raft message field ${k} must be a boolean`);
  return r[k] as boolean;
}

function bytes(v: unknown, what: string): Uint8Array {
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw new MessageDecodeError(`raft message ${what} must be base64`);
  return new Uint8Array(Buffer.from(v, 'base64'));
}

function entries(v: unknown): Entry[] {
  if (!Array.isArray(v)) throw new MessageDecodeError('raft message entries must be a list');
  return v.map((e: unknown) => {
    if (typeof e !== 'object' || e === null) throw new MessageDecodeError('raft entry must be an object');
    const r = e as Record<string, unknown>;
    if (r.type !== 'normal' && r.type !== 'conf-change') throw new MessageDecodeError('raft entry type must be normal or conf-change');
    return { index: int(r, 'index'), term: int(r, 'term'), type: r.type, data: bytes(r.data, 'entry data') };
  });
}

function snapshot(v: unknown): Snapshot {
  if (typeof v !== 'object' || v === null) throw new MessageDecodeError('raft snapshot must be an object');
  const r = v as Record<string, unknown>;
  const meta = r.metadata as Record<string, unknown>;
  if (typeof meta !== 'object' || meta === null) throw new MessageDecodeError('raft snapshot metadata must be an object');
  const cs = meta.confState as Record<string, unknown>;
  const ids = (x: unknown, k: string): string[] => {
    if (!Array.isArray(x) || !x.every((id) => typeof id === 'string')) throw new MessageDecodeError(`raft snapshot ${k} must be a list of ids`);
    return x as string[];
  };
  if (typeof cs !== 'object' || cs === null) throw new MessageDecodeError('raft snapshot confState must be an object');
  const confState: ConfState = { voters: ids(cs.voters, 'voters'), learners: ids(cs.learners, 'learners') };
  return { metadata: { index: int(meta, 'index'), term: int(meta, 'term'), confState }, data: bytes(r.data, 'snapshot data') };
}
