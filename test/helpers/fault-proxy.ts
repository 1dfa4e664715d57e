import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A fault-injecting TCP proxy in front of each node's cluster port: it listens
 * on the address and port the node advertises and forwards to where the node
 * really listens (`--cluster-listen-port`). Nodes dial from their own address
 * (TlsTransport's dialFrom), so each connection is known by both ends, and
 * `isolate(address)` cuts every connection from or to that node and refuses
 * new ones (as a firewall's REJECT: resets, not silence) until `heal()`.
 */
export class FaultProxy {
  private readonly servers: Server[] = [];
  private readonly pairs = new Set<{ from: string; to: string; client: Socket; upstream: Socket }>();
  private readonly isolated = new Set<string>();
  /** Connections refused because one end was isolated, for the failure messages. */
  refused = 0;

  /** One listener per node: `address:advertisedPort` forwards to `address:listenPort`. */
  static async start(addresses: string[], advertisedPort: number, listenPort: number): Promise<FaultProxy> {
    const proxy = new FaultProxy();
    for (const address of addresses) await proxy.listen(address, advertisedPort, listenPort);
    return proxy;
  }

  private async listen(address: string, advertisedPort: number, listenPort: number): Promise<void> {
    const server = createServer((client) => {
      const from = client.remoteAddress?.replace(/^::ffff:/, '') ?? '';
      if (this.cut(from, address)) {
        this.refused++;
        client.resetAndDestroy();
        return;
      }
      const upstream = connect({ host: address, port: listenPort });
      const pair = { from, to: address, client, upstream };
      this.pairs.add(pair);
      const end = () => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    this.servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(advertisedPort, address, () => resolve());
    });
  }

  private cut(from: string, to: string): boolean {
    return this.isolated.has(from) || this.isolated.has(to);
  }

  /** Cuts the node at `address` off from every other: open links reset, new ones refused. */
  isolate(address: string): void {
    this.isolated.add(address);
    for (const p of [...this.pairs]) {
      if (!this.cut(p.from, p.to)) continue;
      this.pairs.delete(p);
      p.client.resetAndDestroy();
      p.upstream.resetAndDestroy();
    }
  }

  heal(): void {
    this.isolated.clear();
  }

  async close(): Promise<void> {
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}
