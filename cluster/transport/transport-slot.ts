import type { FrameKind, PeerEndpoint, PeerHello, PeerId, Transport, TransportEvents } from './transport.js';

/**
 * A Transport that stands for whichever real one the node runs now: none
 * while it is standalone, a new TLS transport each time it initializes or
 * joins a cluster. The cluster router is built once, with the node, and
 * holds this slot; handlers registered here hear the transport bound now,
 * and only it.
 */
export class TransportSlot implements Transport {
  private current: Transport | undefined;
  private readonly handlers: { [E in keyof TransportEvents]: TransportEvents[E][] } = { frame: [], linkUp: [], linkDown: [] };

  constructor(readonly self: PeerHello) {}

  /** From now on, `transport` carries everything; the one bound before is forgotten (its owner closes it). */
  bind(transport: Transport | undefined): void {
    this.current = transport;
    if (!transport) return;
    transport.on('frame', (from, kind, payload) => {
      if (this.current === transport) for (const h of this.handlers.frame) h(from, kind, payload);
    });
    transport.on('linkUp', (peer) => {
      if (this.current === transport) for (const h of this.handlers.linkUp) h(peer);
    });
    transport.on('linkDown', (peer, reason) => {
      if (this.current === transport) for (const h of this.handlers.linkDown) h(peer, reason);
    });
  }

  async start(): Promise<void> {
    await this.current?.start();
  }

  setPeers(peers: ReadonlyMap<PeerId, PeerEndpoint>): void {
    this.current?.setPeers(peers);
  }

  dial(endpoint: PeerEndpoint, timeoutMs: number): Promise<PeerHello> {
    if (!this.current) return Promise.reject(new Error('no cluster transport is running'));
    return this.current.dial(endpoint, timeoutMs);
  }

  send(to: PeerId, kind: FrameKind, payload: Uint8Array): boolean {
    return this.current?.send(to, kind, payload) ?? false;
  }

  queuedStanzaBytes(to: PeerId): number {
    return this.current?.queuedStanzaBytes(to) ?? 0;
  }

  connected(): PeerId[] {
    return this.current?.connected() ?? [];
  }

  on<E extends keyof TransportEvents>(event: E, handler: TransportEvents[E]): void {
    this.handlers[event].push(handler);
  }

  async close(): Promise<void> {
    const t = this.current;
    this.current = undefined;
    await t?.close();
  }
}
