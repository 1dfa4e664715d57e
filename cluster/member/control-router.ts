/**
 * Request and reply correlation on control frames: replies to this node's
 * own requests go to the waiting caller (by request id); replies to requests
 * this node relayed to the leader go back to whoever asked. A relay entry
 * lives until the final reply passes or it expires, so a lost leader leaves
 * nothing behind.
 */
import { OperatorError } from '../../src/base/operator-error.js';
import type { Logger } from '../../src/observability/logger.js';
import { NO_QUORUM } from '../../src/node/cluster-control.js';
import type { PeerId, Transport } from '../transport/transport.js';
import { encodeControl, type ControlMessage } from './control-messages.js';

export type ControlReply = Extract<ControlMessage, { type: 'join-admitted' | 'join-result' | 'member-result' }>;
export type ControlRequest = Extract<ControlMessage, { type: 'join-request' | 'member-request' }>;

const RELAY_MS = 5 * 60_000;

export class ControlRouter {
  private readonly waiting = new Map<string, (reply: ControlReply) => void>();
  private readonly relays = new Map<string, { origin: PeerId; timer: NodeJS.Timeout }>();

  constructor(
    private readonly transport: () => Transport | undefined,
    private readonly log: Logger,
  ) {}

  send(to: PeerId, message: ControlMessage): boolean {
    return this.transport()?.send(to, 'control', encodeControl(message)) ?? false;
  }

  /** Routes replies with `rid` to `handler` until the returned function is called. */
  expect(rid: string, handler: (reply: ControlReply) => void): () => void {
    this.waiting.set(rid, handler);
    return () => this.waiting.delete(rid);
  }

  /**
   * Sends `request` and resolves with its final reply (`progress` sees
   * join-admitted); rejects with an OperatorError from a refused join, when
   * nothing can carry the request, or at the timeout. `endEarly` may end the
   * wait with 'ended' (this node's own removal answers a leave).
   */
  request(
    rid: string,
    to: PeerId,
    request: ControlMessage,
    timeoutMs: number,
    progress: (reply: ControlReply) => void,
    endEarly?: (end: () => void) => () => void,
  ): Promise<ControlReply | 'ended'> {
    return new Promise((resolve, reject) => {
      const unsubscribe = endEarly ? endEarly(() => done(() => resolve('ended'))) : () => undefined;
      const timer = setTimeout(() => done(() => reject(new OperatorError(`the cluster did not answer in ${Math.round(timeoutMs / 1000)} s; check xmpp cluster status`))), timeoutMs);
      const stop = this.expect(rid, (reply) => {
        if (reply.type === 'join-admitted') return progress(reply);
        if (reply.type === 'join-result' && !reply.ok) return done(() => reject(new OperatorError(reply.error)));
        done(() => resolve(reply));
      });
      const done = (settle: () => void) => {
        clearTimeout(timer);
        stop();
        unsubscribe();
        settle();
      };
      if (!this.send(to, request)) done(() => reject(new OperatorError(NO_QUORUM)));
    });
  }

  /** Passes a request on to the leader and remembers who asked. */
  relay(origin: PeerId, request: ControlRequest, leader: PeerId): boolean {
    const timer = setTimeout(() => this.relays.delete(request.rid), RELAY_MS);
    timer.unref();
    this.relays.set(request.rid, { origin, timer });
    this.log.info({ rid: request.rid, type: request.type, origin, leader }, 'relaying a membership request to the leader');
    return this.send(leader, request);
  }

  reply(from: PeerId, reply: ControlReply): void {
    const own = this.waiting.get(reply.rid);
    if (own) return own(reply);
    const relay = this.relays.get(reply.rid);
    if (!relay) {
      this.log.debug({ rid: reply.rid, from }, 'reply to no request of ours; dropped');
      return;
    }
    this.send(relay.origin, reply);
    if (reply.type !== 'join-admitted') {
      clearTimeout(relay.timer);
      this.relays.delete(reply.rid);
    }
  }

  clear(): void {
    for (const r of this.relays.values()) clearTimeout(r.timer);
    this.relays.clear();
  }
}
