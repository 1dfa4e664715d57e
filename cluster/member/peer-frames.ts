/**
 * What the member reads from and gives to the transport: Raft frames
 * decoded and checked against the link they came on (a peer may only speak
 * for itself), and the members' cluster endpoints for the transport's peer set.
 */
import { decodeMessage } from '../raft/message-codec.js';
import type { Message, NodeId } from '../raft/messages.js';
import type { ClusterState } from '../state/cluster-state.js';
import type { PeerEndpoint, PeerId, Transport } from '../transport/transport.js';
import type { ConfState } from '../raft/messages.js';
import { encodeControl, type ControlMessage } from './control-messages.js';

/** The message, or why the frame is dropped. */
export function decodeRaftFrame(from: PeerId, self: NodeId, payload: Uint8Array): Message | string {
  let m: Message;
  try {
    m = decodeMessage(payload);
  } catch (err) {
    return (err as Error).message;
  }
  if (m.to !== self) return `addressed to ${m.to}`;
  if (m.from !== from) return `claims to be from ${m.from}`;
  return m;
}

/** Every other member of the applied configuration (voters and learners) with its cluster endpoint. */
export function peerEndpoints(state: ClusterState, self: NodeId): { peers: Map<PeerId, PeerEndpoint>; unusable: { id: string; cluster: string }[] } {
  const peers = new Map<PeerId, PeerEndpoint>();
  const unusable: { id: string; cluster: string }[] = [];
  for (const m of state.members()) {
    if (m.id === self) continue;
    const endpoint = parseEndpoint(m.cluster);
    if (endpoint) peers.set(m.id, endpoint);
    else unusable.push({ id: m.id, cluster: m.cluster });
  }
  return { peers, unusable };
}

/** `host:port` or `[v6]:port` as members record their cluster endpoint. */
export function parseEndpoint(text: string): PeerEndpoint | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1] ?? m[2]!, port };
}

/** Sends one control message to every other member of `conf`, voters and learners. */
export function broadcastControl(transport: Transport, self: NodeId, conf: ConfState, message: ControlMessage): void {
  const frame = encodeControl(message);
  for (const id of [...conf.voters, ...conf.learners]) if (id !== self) transport.send(id, 'control', frame);
}
