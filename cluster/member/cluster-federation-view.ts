/**
 * `xmpp federation connections` across the cluster (federation.md, "Where we
 * go further": the view covers every node, not only the one you are logged
 * into). The member asked sends a `federation-rows-request` control frame
 * to every other member; each answers with the server streams it holds now.
 * The answers are merged with its own rows within a bounded wait: a member
 * that does not answer in time (stopped, cut off, overloaded) is left out and
 * named, so the operator sees a `Warning:` line rather than a silently short
 * list or a command that hangs.
 */
import { randomUUID } from 'node:crypto';
import type { FederationConnectionRow, FederationSurvey, FederationView } from '../../src/node/federation-view.js';
import type { S2sStreamInfo } from '../../src/s2s/server-streams.js';
import type { PeerId, Transport } from '../transport/transport.js';
import { ControlDecodeError, decodeControl, encodeControl, type ControlMessage } from './control-messages.js';

export interface ClusterFederationViewOptions {
  /** This member: its id on the cluster links and its name in the `Node` column. */
  readonly self: { readonly id: string; readonly name: string };
  /** Every member of the cluster now (this one may be among them); empty while standalone. */
  readonly members: () => readonly { readonly id: string; readonly name: string }[];
  /** The cluster links (a TransportSlot follows whichever transport the node runs now). */
  readonly transport: Pick<Transport, 'send' | 'on'>;
  /** How long to wait for the other members' rows. Default 2 s: a command, not a long poll. */
  readonly timeoutMs?: number;
}

type RowsReply = Extract<ControlMessage, { type: 'federation-rows' }>;

export function clusterFederationView(localRows: () => readonly S2sStreamInfo[], options: ClusterFederationViewOptions): FederationView {
  const timeoutMs = options.timeoutMs ?? 2_000;
  const waiting = new Map<string, (from: PeerId, reply: RowsReply) => void>();
  const own = (): FederationConnectionRow[] => localRows().map((r) => ({ ...r, node: options.self.name }));

  options.transport.on('frame', (from, kind, payload) => {
    if (kind !== 'control') return;
    let msg: ControlMessage;
    try {
      msg = decodeControl(payload);
    } catch (err) {
      if (err instanceof ControlDecodeError) return; // the cluster service logs malformed frames
      throw err;
    }
    if (msg.type === 'federation-rows-request') {
      options.transport.send(from, 'control', encodeControl({ type: 'federation-rows', rid: msg.rid, node: options.self.name, rows: localRows() }));
    } else if (msg.type === 'federation-rows') {
      waiting.get(msg.rid)?.(from, msg);
    }
  });

  async function survey(): Promise<FederationSurvey> {
    const rows = own();
    const others = options.members().filter((m) => m.id !== options.self.id);
    if (others.length === 0) return { rows, unanswered: [] };
    const rid = randomUUID();
    const pending = new Map(others.map((m) => [m.id, m.name]));
    const unanswered: string[] = [];
    await new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        waiting.delete(rid);
        resolve();
      };
      const timer = setTimeout(finish, timeoutMs);
      waiting.set(rid, (from, reply) => {
        // Only the members asked, once each: a late or foreign answer changes nothing.
        if (!pending.delete(from)) return;
        rows.push(...reply.rows.map((r) => ({ ...r, node: reply.node })));
        if (pending.size === 0) finish();
      });
      const request = encodeControl({ type: 'federation-rows-request', rid });
      for (const m of others) {
        // No link to it: it cannot answer, so do not wait for it.
        if (!options.transport.send(m.id, 'control', request)) {
          pending.delete(m.id);
          unanswered.push(m.name);
        }
      }
      if (pending.size === 0) finish();
    });
    unanswered.push(...pending.values());
    return { rows, unanswered: unanswered.sort() };
  }

  return {
    survey,
    connections: async () => [...(await survey()).rows],
  };
}
