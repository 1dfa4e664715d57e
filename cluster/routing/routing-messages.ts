import { isUtf8 } from 'node:buffer';
import { getU32 } from './wire-bytes.js';
import type { PeerId } from '../transport/transport.js';
import type { StanzaName } from '../../src/router/router.js';
import { BinaryMessageError, decodeDlv, decodeDlvAt, decodeFwd, decodeLeanFwd, decodeLeanFwdAt, DLV_TAG, encodeDlv, encodeFwd, encodeLeanFwd, FWD_TAG, LEAN_FWD_TAG } from './binary-messages.js';

/**
 * The cluster router's own messages, each one `stanza` frame on the peer
 * link: JSON, checked field by field on the way in, so a peer that speaks
 * another version (or a corrupted frame) costs one log line, never a crash.
 * The two messages of every stanza, `fwd` and `dlv`, go in the binary form
 * of binary-messages.ts; the first byte tells it from JSON's `{`.
 *
 * Names: the *origin* is the member whose call bridge sent a stanza, the
 * *leader* routes it, the *holder* is the member holding the destination's
 * session. `epoch` + `seq` name one stanza of one origin incarnation; `gen`
 * + `dseq` name one delivery of a leader to a holder, since the holder's
 * last full report to it.
 */

/** A stanza as the origin's session parsed it: the leader routes on the head, forwards the text. */
export interface WireStanza {
  readonly name: StanzaName;
  readonly attrs: Readonly<Record<string, string>>;
  readonly raw: string;
  readonly toDomain: string;
}

/** One call-bridge session on the member that reports it; `sid` tells two sessions of one address apart. */
export interface WireSession {
  readonly address: string;
  readonly sid: number;
  readonly peer: string;
  /** Connected since, in ms since the Unix epoch. */
  readonly since: number;
}

/** One row of the cluster-wide session table the leader broadcasts. */
export interface WireTableEntry {
  readonly address: string;
  readonly node: PeerId;
  readonly peer: string;
  readonly since: number;
}

export type RoutingMessage =
  /**
   * Origin → leader: route this stanza. `headOnly`: the leader routes it on
   * its name and domain alone (it is for a component of ours), so to a leader
   * that reads ROUTING_LEAN it goes without its attributes; not on the wire.
   */
  | { readonly t: 'fwd'; readonly epoch: string; readonly seq: number; readonly stanza: WireStanza; readonly headOnly?: boolean }
  /** Leader → holder: write this to the session `sid` of `to`. */
  | {
      readonly t: 'dlv';
      readonly gen: number;
      readonly dseq: number;
      readonly origin: PeerId;
      readonly epoch: string;
      readonly seq: number;
      readonly to: string;
      readonly sid: number;
      /** Decoded, a string; the leader sends the bytes it was forwarded. */
      readonly raw: string | Uint8Array;
    }
  /** Holder or leader → origin: these stanzas are settled (written, dropped, or handed to a remote route). */
  | { readonly t: 'ack'; readonly epoch: string; readonly seqs: readonly number[] }
  /** Leader → origin: settled with this answer or bounce, for the origin to write to its sender. */
  | { readonly t: 'reply'; readonly epoch: string; readonly seq: number; readonly raw: string }
  /** Holder → leader: every delivery up to `dseq` of `gen` is processed. */
  | { readonly t: 'dack'; readonly gen: number; readonly dseq: number }
  /** Member → leader: all its sessions; deliveries are accepted from then on with this `gen` only. */
  | { readonly t: 'report'; readonly gen: number; readonly sessions: readonly WireSession[] }
  | { readonly t: 'attach'; readonly session: WireSession }
  | { readonly t: 'detach'; readonly address: string; readonly sid: number }
  /** Leader → old holder: a newer session of `address` is on another member; end this one with `<conflict/>`. */
  | { readonly t: 'replaced'; readonly address: string; readonly sid: number }
  /** Leader → members: every session in the cluster, for `xmpp status`. */
  | { readonly t: 'table'; readonly sessions: readonly WireTableEntry[] }
  /** A new leader → members: report and resend to me (you may have done so before I knew I lead). */
  | { readonly t: 'hello' };

/** A frame that is not one of our messages. */
export class RoutingMessageError extends Error {
  override readonly name = 'RoutingMessageError';
}

const STANZA_NAMES = new Set<string>(['message', 'presence', 'iq']);
const encoder = new TextEncoder();

/** `lean`: the peer reads ROUTING_LEAN, so a `fwd` marked headOnly goes without its attributes. */
export function encodeRoutingMessage(message: RoutingMessage, lean = false): Uint8Array {
  switch (message.t) {
    case 'fwd':
      return lean && message.headOnly === true ? encodeLeanFwd(message.epoch, message.seq, message.stanza) : encodeFwd(message.epoch, message.seq, message.stanza);
    case 'dlv':
      return encodeDlv(message.gen, message.dseq, message.origin, message.epoch, message.seq, message.to, message.sid, message.raw);
    default:
      return encoder.encode(JSON.stringify(message));
  }
}

/**
 * Several messages in one frame: a tag byte, then each message as a u32 byte
 * length and its bytes. A member batches the `fwd` and `dlv` of one turn of
 * its event loop to each peer, with the confirmations of that turn, so a burst
 * costs one frame, one socket write and one read, not one per stanza. Sent
 * only to a peer whose hello lists ROUTING_BATCHES, so a release without it
 * can be in the same cluster during a rolling upgrade.
 */
export const BATCH_TAG = 0x03;
export const ROUTING_BATCHES = 'routing-batches';
/** A member whose hello lists this reads lean fwd messages (binary-messages.ts, encodeLeanFwd). */
export const ROUTING_LEAN = 'routing-lean';

/**
 * Calls `each` with every message of a frame, in order: one, or all of a
 * batch. Throws RoutingMessageError at the first that is malformed; the
 * messages before it were handed over already.
 */
export function forEachRoutingMessage(payload: Uint8Array, each: (m: RoutingMessage) => void): void {
  if (payload[0] !== BATCH_TAG) return each(decodeRoutingMessage(payload));
  const frame = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  let at = 1;
  if (frame.length === 1) throw new RoutingMessageError('an empty batch');
  while (at < frame.length) {
    if (frame.length - at < 4) throw new RoutingMessageError(`batch: ${frame.length - at} bytes after the last message, too few for a length`);
    const n = getU32(frame, at);
    if (n > frame.length - at - 4) throw new RoutingMessageError(`batch: a message of ${n} bytes runs past the frame`);
    const tag = frame[at + 4];
    // Batches do not nest: a batch inside one is malformed, not read recursively.
    if (tag === BATCH_TAG) throw new RoutingMessageError('batch: a batch inside a batch');
    // The stanzas' own message read in place; the rest (a few per batch) from a view.
    each(tag === LEAN_FWD_TAG || tag === DLV_TAG ? binaryAt(tag, frame, at + 4, at + 4 + n) : decodeRoutingMessage(frame.subarray(at + 4, at + 4 + n)));
    at += 4 + n;
  }
}

function binaryAt(tag: number, frame: Buffer, start: number, end: number): RoutingMessage {
  try {
    return tag === DLV_TAG ? decodeDlvAt(frame, start, end) : decodeLeanFwdAt(frame, start, end);
  } catch (err) {
    if (err instanceof BinaryMessageError) throw new RoutingMessageError(err.message);
    throw err;
  }
}

/** The message in a frame; throws RoutingMessageError naming what is wrong. */
export function decodeRoutingMessage(payload: Uint8Array): RoutingMessage {
  const tag = payload[0];
  if (tag === FWD_TAG || tag === DLV_TAG || tag === LEAN_FWD_TAG) {
    try {
      return tag === DLV_TAG ? decodeDlv(payload) : tag === LEAN_FWD_TAG ? decodeLeanFwd(payload) : decodeFwd(payload);
    } catch (err) {
      if (err instanceof BinaryMessageError) throw new RoutingMessageError(err.message);
      throw err;
    }
  }
  // simdutf's check and V8's decoder: a fatal TextDecoder goes through ICU, several times slower.
  if (!isUtf8(payload)) throw new RoutingMessageError('not JSON in UTF-8: the frame is not UTF-8');
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'));
  } catch (err) {
    throw new RoutingMessageError(`not JSON in UTF-8: ${(err as Error).message}`);
  }
  const m = object(value, 'message');
  switch (m.t) {
    case 'fwd':
      return { t: 'fwd', epoch: str(m, 'epoch'), seq: count(m, 'seq'), stanza: wireStanza(m.stanza) };
    case 'dlv':
      return {
        t: 'dlv',
        gen: count(m, 'gen'),
        dseq: count(m, 'dseq'),
        origin: str(m, 'origin'),
        epoch: str(m, 'epoch'),
        seq: count(m, 'seq'),
        to: str(m, 'to'),
        sid: count(m, 'sid'),
        raw: str(m, 'raw'),
      };
    case 'ack':
      return { t: 'ack', epoch: str(m, 'epoch'), seqs: list(m, 'seqs', (v) => countValue(v, 'seqs[]')) };
    case 'reply':
      return { t: 'reply', epoch: str(m, 'epoch'), seq: count(m, 'seq'), raw: str(m, 'raw') };
    case 'dack':
      return { t: 'dack', gen: count(m, 'gen'), dseq: count(m, 'dseq') };
    case 'report':
      return { t: 'report', gen: count(m, 'gen'), sessions: list(m, 'sessions', wireSession) };
    case 'attach':
      return { t: 'attach', session: wireSession(m.session) };
    case 'detach':
    case 'replaced':
      return { t: m.t, address: str(m, 'address'), sid: count(m, 'sid') };
    case 'table':
      return { t: 'table', sessions: list(m, 'sessions', tableEntry) };
    case 'hello':
      return { t: 'hello' };
    default:
      throw new RoutingMessageError(`unknown message type ${JSON.stringify(m.t)}`);
  }
}

type Fields = Record<string, unknown>;

function object(value: unknown, what: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RoutingMessageError(`${what} is not an object`);
  return value as Fields;
}

function str(m: Fields, key: string): string {
  const v = m[key];
  if (typeof v !== 'string') throw new RoutingMessageError(`${key} is not a string`);
  return v;
}

function count(m: Fields, key: string): number {
  return countValue(m[key], key);
}

function countValue(v: unknown, key: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new RoutingMessageError(`${key} is not a non-negative integer`);
  return v;
}

function list<T>(m: Fields, key: string, item: (v: unknown) => T): T[] {
  const v = m[key];
  if (!Array.isArray(v)) throw new RoutingMessageError(`${key} is not a list`);
  return v.map(item);
}

function wireStanza(value: unknown): WireStanza {
  const s = object(value, 'stanza');
  const name = str(s, 'name');
  if (!STANZA_NAMES.has(name)) throw new RoutingMessageError(`stanza name ${JSON.stringify(name)} is not message, presence or iq`);
  const attrs = object(s.attrs, 'stanza attrs');
  for (const [k, v] of Object.entries(attrs)) if (typeof v !== 'string') throw new RoutingMessageError(`stanza attribute ${k} is not a string`);
  return { name: name as StanzaName, attrs: attrs as Record<string, string>, raw: str(s, 'raw'), toDomain: str(s, 'toDomain') };
}

function wireSession(value: unknown): WireSession {
  const s = object(value, 'session');
  return { address: str(s, 'address'), sid: count(s, 'sid'), peer: str(s, 'peer'), since: count(s, 'since') };
}

function tableEntry(value: unknown): WireTableEntry {
  const s = object(value, 'table entry');
  return { address: str(s, 'address'), node: str(s, 'node'), peer: str(s, 'peer'), since: count(s, 'since') };
}
