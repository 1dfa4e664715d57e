import { formatEndpoint, TransportError, type FrameKind, type PeerEndpoint, type PeerHello, type PeerId, type Transport, type TransportEvents } from './transport.js';

/**
 * Links between transports of one process, for tests of the layers above the
 * transport: the same contract as the TLS transport (one behaviour suite runs
 * both), with partitions and crashes on demand. Frames are delivered in order
 * per link, asynchronously, Raft and control frames ahead of stanza frames.
 */
export class MemoryNetwork {
  private readonly byEndpoint = new Map<string, MemoryTransport>();
  private readonly cuts = new Set<string>();

  transport(self: PeerHello): MemoryTransport {
    return new MemoryTransport(self, this);
  }

  /** Cuts the link between a and b both ways (a partition); nothing passes until `heal`. */
  cut(a: PeerId, b: PeerId): void {
    this.cuts.add(pairKey(a, b));
    this.find(a)?.dropLink(b, 'partitioned');
    this.find(b)?.dropLink(a, 'partitioned');
  }

  heal(a: PeerId, b: PeerId): void {
    this.cuts.delete(pairKey(a, b));
    this.find(a)?.relinkWanted();
    this.find(b)?.relinkWanted();
  }

  /** Isolates one member from every other. */
  isolate(id: PeerId): void {
    for (const t of this.byEndpoint.values()) if (t.self.id !== id) this.cut(id, t.self.id);
  }

  healAll(): void {
    const pairs = [...this.cuts];
    this.cuts.clear();
    for (const key of pairs) for (const id of key.split('\u0000')) this.find(id)?.relinkWanted();
  }

  /** @internal */
  register(t: MemoryTransport): void {
    const key = formatEndpoint(t.self.endpoint);
    if (this.byEndpoint.has(key)) throw new TransportError('protocol', `address in use: ${key}`);
    this.byEndpoint.set(key, t);
  }

  /** @internal A member (re)started: the others' redial loops find it, as a real transport's backoff would. */
  announce(t: MemoryTransport): void {
    for (const other of this.byEndpoint.values()) if (other !== t) other.relinkWanted();
  }

  /** @internal */
  unregister(t: MemoryTransport): void {
    const key = formatEndpoint(t.self.endpoint);
    if (this.byEndpoint.get(key) === t) this.byEndpoint.delete(key);
  }

  /** @internal */
  at(endpoint: PeerEndpoint): MemoryTransport | undefined {
    return this.byEndpoint.get(formatEndpoint(endpoint));
  }

  /** @internal */
  isCut(a: PeerId, b: PeerId): boolean {
    return this.cuts.has(pairKey(a, b));
  }

  private find(id: PeerId): MemoryTransport | undefined {
    for (const t of this.byEndpoint.values()) if (t.self.id === id) return t;
    return undefined;
  }
}

interface QueuedFrame {
  kind: FrameKind;
  payload: Uint8Array;
}

class MemoryLink {
  readonly urgent: QueuedFrame[] = [];
  readonly stanzas: QueuedFrame[] = [];
  stanzaBytes = 0;
  scheduled = false;
  constructor(readonly remote: MemoryTransport) {}
}

export class MemoryTransport implements Transport {
  private readonly links = new Map<PeerId, MemoryLink>();
  private wanted = new Map<PeerId, PeerEndpoint>();
  private readonly handlers: { [E in keyof TransportEvents]: TransportEvents[E][] } = { frame: [], linkUp: [], linkDown: [] };
  private started = false;

  constructor(
    readonly self: PeerHello,
    private readonly network: MemoryNetwork,
  ) {}

  async start(): Promise<void> {
    this.network.register(this);
    this.started = true;
    this.relinkWanted();
    this.network.announce(this);
  }

  setPeers(peers: ReadonlyMap<PeerId, PeerEndpoint>): void {
    this.wanted = new Map(peers);
    this.wanted.delete(this.self.id);
    this.relinkWanted();
  }

  async dial(endpoint: PeerEndpoint, timeoutMs: number): Promise<PeerHello> {
    const remote = this.network.at(endpoint);
    if (!this.started || !remote || !remote.started || this.network.isCut(this.self.id, remote.self.id)) {
      throw new TransportError('unreachable', `cannot reach ${formatEndpoint(endpoint)} (tried for ${(timeoutMs / 1000).toFixed(1)} s)`);
    }
    this.link(remote);
    return remote.self;
  }

  send(to: PeerId, kind: FrameKind, payload: Uint8Array): boolean {
    const link = this.links.get(to);
    if (!link) return false;
    const frame = { kind, payload };
    if (kind === 'stanza') {
      link.stanzas.push(frame);
      link.stanzaBytes += payload.byteLength;
    } else link.urgent.push(frame);
    if (!link.scheduled) {
      link.scheduled = true;
      setImmediate(() => this.flush(to, link));
    }
    return true;
  }

  queuedStanzaBytes(to: PeerId): number {
    return this.links.get(to)?.stanzaBytes ?? 0;
  }

  connected(): PeerId[] {
    return [...this.links.keys()];
  }

  on<E extends keyof TransportEvents>(event: E, handler: TransportEvents[E]): void {
    this.handlers[event].push(handler);
  }

  async close(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.network.unregister(this);
    for (const peer of [...this.links.keys()]) {
      const remote = this.links.get(peer)!.remote;
      this.dropLink(peer, 'closed');
      remote.dropLink(this.self.id, 'connection closed by peer');
    }
  }

  /** @internal */
  dropLink(peer: PeerId, reason: string): void {
    if (!this.links.delete(peer)) return;
    for (const h of this.handlers.linkDown) h(peer, reason);
  }

  /** @internal Re-dials every wanted peer that has no link (a real transport's backoff loop, at once). */
  relinkWanted(): void {
    if (!this.started) return;
    for (const endpoint of this.wanted.values()) {
      const remote = this.network.at(endpoint);
      if (remote && remote.started && !this.network.isCut(this.self.id, remote.self.id)) this.link(remote);
    }
  }

  private link(remote: MemoryTransport): void {
    if (this.links.has(remote.self.id)) return;
    this.links.set(remote.self.id, new MemoryLink(remote));
    remote.links.set(this.self.id, new MemoryLink(this));
    for (const h of this.handlers.linkUp) h(remote.self);
    for (const h of remote.handlers.linkUp) h(this.self);
  }

  private flush(to: PeerId, link: MemoryLink): void {
    link.scheduled = false;
    if (this.links.get(to) !== link) return;
    const frames = [...link.urgent.splice(0), ...link.stanzas.splice(0)];
    link.stanzaBytes = 0;
    const remote = link.remote;
    for (const f of frames) {
      if (remote.links.get(this.self.id) === undefined || !remote.started) return;
      for (const h of remote.handlers.frame) h(this.self.id, f.kind, f.payload);
    }
  }
}

function pairKey(a: PeerId, b: PeerId): string {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
}
