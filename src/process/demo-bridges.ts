import { CallBridge } from '../bridge/call-bridge.js';
import { SrvCallBridge } from '../bridge/srv-call-bridge.js';
import type { Logger } from '../observability/logger.js';
import type { DemoNode } from './demo-nodes.js';

/**
 * The demo's two call bridges: cb2 echoes, cb1 sends it a numbered message
 * every second and prints each answer with its round-trip time. cb1 is given
 * the second node's address, as a call bridge with "Server address" set;
 * cb2 finds its node by DNS SRV from the nodes' responders (the third node
 * first), as a CMS call bridge with it left empty. Either reconnects to
 * another node when its node goes away.
 */
export interface DemoBridgesOptions {
  domain: string;
  secrets: Record<string, string>;
  nodes: DemoNode[];
  /** Where every node's DNS responder listens. */
  dnsPort: number;
  log: Logger;
  write: (line: string) => void;
}

const SEND_EVERY_MS = 1000;
const RECONNECT_EVERY_MS = 1000;

export class DemoBridges {
  private readonly bridges = new Map<string, CallBridge>();
  private srv: SrvCallBridge | undefined;
  private readonly sentAt = new Map<string, bigint>();
  private timer: NodeJS.Timeout | undefined;
  private sent = 0;
  private answered = 0;
  private stopped = false;

  constructor(private readonly o: DemoBridgesOptions) {}

  async start(): Promise<void> {
    await this.findBySrv('cb2');
    await this.connect('cb1', 1, false);
    this.timer = setInterval(() => void this.send(), SEND_EVERY_MS);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.all([...this.bridges.values()].map((b) => b.close().catch(() => undefined)));
    await this.srv?.close();
  }

  /** An echoing call bridge that finds its node by SRV and moves by itself. */
  private async findBySrv(name: string): Promise<void> {
    const dnsServers = this.o.nodes.map((n) => `${n.address}:${this.o.dnsPort}`);
    const bridge = SrvCallBridge.start({ name, secret: this.o.secrets[name]!, domain: this.o.domain, dnsServers, echo: true, answerIq: true, connectTimeoutMs: 1000, log: this.o.log });
    this.srv = bridge;
    const nodeAt = (address: string) => this.o.nodes.find((n) => n.address === address)?.name ?? address;
    bridge.on('connected', (to: { address: string; port: number }) =>
      this.o.write(`  ${name}.${this.o.domain} connected to ${nodeAt(to.address)} (${to.address}:${to.port}), found by SRV`),
    );
    bridge.on('dropped', (from: { address: string }) => this.o.write(`  ${name}.${this.o.domain} lost ${nodeAt(from.address)}; trying the next SRV target`));
    await bridge.waitConnected(30_000);
  }

  /** Connects `name` to the node at `preferred`, or the next that answers. */
  private async connect(name: string, preferred: number, echo: boolean): Promise<void> {
    const nodes = this.o.nodes;
    for (let attempt = 0; !this.stopped; attempt++) {
      const node = nodes[(preferred + attempt) % nodes.length]!;
      try {
        const bridge = await CallBridge.connect({ name, secret: this.o.secrets[name]!, domain: this.o.domain, host: node.address, port: 5222, echo, answerIq: true, timeoutMs: 3000 });
        this.bridges.set(name, bridge);
        this.o.write(`  ${name}.${this.o.domain} connected to ${node.name} (${node.address}:5222)`);
        if (!echo) bridge.on('message', (m: { body: string }) => this.answer(m.body));
        bridge.once('disconnected', () => {
          if (this.stopped) return;
          this.bridges.delete(name);
          this.o.write(`  ${name}.${this.o.domain} lost ${node.name}; reconnecting to another node`);
          setTimeout(() => void this.connect(name, preferred + attempt + 1, echo), RECONNECT_EVERY_MS).unref();
        });
        return;
      } catch (err) {
        this.o.log.debug({ module: 'demo', bridge: name, node: node.name, err: (err as Error).message }, 'demo call bridge could not connect');
        await new Promise((r) => setTimeout(r, RECONNECT_EVERY_MS / nodes.length));
      }
    }
  }

  private async send(): Promise<void> {
    const bridge = this.bridges.get('cb1');
    if (!bridge) return;
    const body = `#${++this.sent}`;
    this.sentAt.set(body, process.hrtime.bigint());
    await bridge.sendMessage(`cb2.${this.o.domain}`, body).catch(() => undefined);
  }

  private answer(body: string): void {
    const at = this.sentAt.get(body);
    if (at === undefined) return;
    this.sentAt.delete(body);
    this.answered++;
    const ms = Number(process.hrtime.bigint() - at) / 1e6;
    this.o.write(`  cb1 -> cb2 -> cb1  ${body.padEnd(6)} ${ms.toFixed(1).padStart(7)} ms   answered ${this.answered} of ${this.sent}`);
  }
}
