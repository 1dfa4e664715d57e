import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { AuthThrottleOptions } from '../../src/component/auth-throttle.js';
import type { ComponentSessionOptions } from '../../src/component/component-session.js';
import type { PreauthLimits } from '../../src/component/preauth-queue.js';
import type { Logger } from '../../src/observability/logger.js';
import { XmppNode, type XmppNodeOptions } from '../../src/node/xmpp-node.js';

/** Log lines a test can search; the logger is the real pino one. */
export class LogCapture {
  readonly lines: Array<Record<string, unknown>> = [];
  readonly raw: string[] = [];
  readonly logger: Logger;
  constructor() {
    const sink = new Writable({
      write: (chunk, _enc, done) => {
        const text = chunk.toString();
        this.raw.push(text);
        for (const line of text.split('\n').filter(Boolean)) this.lines.push(JSON.parse(line));
        done();
      },
    });
    this.logger = pino({ level: 'debug' }, sink);
  }
  find(event: string): Array<Record<string, unknown>> {
    return this.lines.filter((l) => l.event === event);
  }
}

export interface TestNode {
  node: XmppNode;
  dataDir: string;
  log: LogCapture;
  /** The two component ports, as bound. */
  ports: [number, number];
  secrets: Record<string, string>;
  close(): Promise<void>;
}

export async function tempDir(prefix = 'xmpp-cluster-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** An enabled node on 127.0.0.1 (or `address`), ephemeral ports, domain example.test, the given call bridges. */
export async function startTestNode(
  options: {
    callbridges?: Record<string, string>;
    sessionOptions?: Partial<ComponentSessionOptions>;
    authThrottle?: Partial<AuthThrottleOptions>;
    preauthLimits?: Partial<PreauthLimits>;
    dataDir?: string;
    domain?: string;
    /** The node's own address (interface `a`); 127.0.0.1 by default. */
    address?: string;
    /** The node's name; xmpp1 by default. */
    name?: string;
    router?: XmppNodeOptions['router'];
  } = {},
): Promise<TestNode> {
  const dataDir = options.dataDir ?? (await tempDir());
  const log = new LogCapture();
  const node = await XmppNode.open({
    dataDir,
    name: options.name ?? 'xmpp1',
    address: options.address ?? '127.0.0.1',
    componentPorts: [0, 0],
    log: log.logger,
    sessionOptions: options.sessionOptions,
    authThrottle: { baseDelayMs: 20, maxDelayMs: 2000, ...options.authThrottle },
    preauthLimits: options.preauthLimits,
    router: options.router,
  });
  if (!node.settings().domain) await node.setDomain(options.domain ?? 'example.test');
  if (node.settings().listen.length === 0) await node.setListen(['a']);
  const secrets = options.callbridges ?? { cb1: 'secret-one-1234567890', cb2: 'secret-two-1234567890' };
  for (const [name, secret] of Object.entries(secrets)) if (!node.configuration().callbridge(name)) await node.addCallbridge(name, secret);
  await node.enable();
  const state = node.serviceState();
  if (state.state !== 'running') throw new Error(`test node not running: ${JSON.stringify(state)}`);
  const ports = state.bindings.map((b) => b.port) as [number, number];
  return {
    node,
    dataDir,
    log,
    ports,
    secrets,
    close: async () => {
      await node.close();
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
