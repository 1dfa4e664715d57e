import { CallBridge } from '../bridge/call-bridge.js';
import type { Logger } from '../observability/logger.js';
import type { DemoNode } from './demo-nodes.js';

/**
 * The demo's two call bridges: cb2 echoes, cb1 sends it a numbered message
 * every second and prints each answer with its round-trip time. They sit on
 * the second and third nodes, so every message crosses the leader. A bridge
 * whose node goes away reconnects to another one, as a CMS call bridge does.
 */
export interface DemoBridgesOptions {
  domain: string;
  secrets: Record<string, string>;
  nodes: DemoNode[];
  log: Logger;
  write: (line: string) => void;
}

const SEND_EVERY_MS = 1000;
const RECONNECT_EVERY_MS = 1000;

export class DemoBridges {
  private readonly bridges = new Map<string, CallBridge>();
  private readonly sentAt = new Map<string, bigint>();
  private timer: NodeJS.Timeout | undefined;
  private sent = 0;
  private answered = 0;
  private stopped = false;

  constructor(private readonly o: DemoBridgesOptions) {}

  async start(): Promise<void> {
    await this.connect('cb2', 2, true);
    await this.connect('cb1', 1, false);
    this.timer = setInterval(() => void this.send(), SEND_EVERY_MS);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.all([...this.bridges.values()].map((b) => b.close().catch(() => undefined)));
  }

  /** Connects `name` to the node at `preferred`, or the next that answers. */
  private async connect(name: string, preferred: number, echo: boolean): Promise<void> {
    const nodes = this.o.nodes;
    for (let attempt = 0; !this.stopped; attempt++) {
      const node = nodes[(preferred + attempt) % nodes.length]!;
      try {
        const bridge = await CallBridge.connect({ name, secret: this.o.secrets[name]!, domain: this.o.domain, host: node.address, port: 5222, echo, timeoutMs: 3000 });
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
