import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/observability/logger.js';
import { LocalRouter } from '../../src/router/local-router.js';
import type { HoldReason, Route } from '../../src/router/router.js';
import { FederationService, type FederationServiceOptions } from '../../src/s2s/federation-service.js';
import type { FederationConfig, S2sEnvironment } from '../../src/s2s/server-streams.js';
import { parseStanza } from '../../src/xmpp/stanza.js';
import { MemoryS2s, stanza } from '../helpers/memory-s2s.js';

/**
 * The federation service between the real LocalRouter and the in-memory
 * streams of memory-s2s.ts: a call bridge `cb1.example.test` sends through
 * the router, which asks the service for remote routes; the service's
 * bounces and incoming stanzas enter the router again, as the node wires it.
 * The bridge is a recording Route, the environment a mutable settings view
 * over the real pino logger; the streams are memory-s2s.ts's.
 */
export interface Federation {
  net: MemoryS2s;
  env: MemoryEnvironment;
  service: FederationService;
  router: LocalRouter;
  bridge: MemoryBridge;
  /** The bridge (or `from`) sends a stanza into the router. */
  send(raw: string, from?: Route): void;
}

export function federation(
  options: { config?: Partial<FederationConfig> } & Pick<FederationServiceOptions, 'liveness' | 'queueLimits' | 'retryAfterFailureMs'> = {},
): Federation {
  const net = new MemoryS2s();
  const env = new MemoryEnvironment(options.config);
  let router: LocalRouter | undefined;
  const service = new FederationService({
    env,
    connect: net.connect,
    inject: (s, origin) => router!.route(s, origin),
    clock: net.clock,
    liveness: options.liveness,
    queueLimits: options.queueLimits,
    retryAfterFailureMs: options.retryAfterFailureMs,
  });
  router = new LocalRouter({ domain: () => env.domain(), log: env.log, remote: service });
  net.attach(service.incoming);
  const bridge = new MemoryBridge('cb1.example.test');
  router.attach(bridge);
  return { net, env, service, router, bridge, send: (raw, from = bridge) => router!.route(stanza(raw), from) };
}

/** The `id` of each stanza text, in order. */
export function ids(raws: readonly string[]): string[] {
  return raws.map((raw) => /\sid=(['"])(.*?)\1/.exec(raw)?.[2] ?? '?');
}

export function message(from: string, to: string, id: string, extra: Record<string, string> = {}): string {
  const head = Object.entries({ from, to, id, ...extra })
    .map(([k, v]) => ` ${k}='${v}'`)
    .join('');
  return `<message${head}><body>hello ${id}</body></message>`;
}

/** Pino lines written through the real logger (with its redaction), as text and parsed. */
export class LogLines {
  readonly raw: string[] = [];
  readonly lines: Array<Record<string, unknown>> = [];
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
    this.logger = createLogger({ level: 'debug', destination: sink }).child({ module: 'XMPPFederation' });
  }
  events(name: string): Array<Record<string, unknown>> {
    return this.lines.filter((l) => l.event === name);
  }
}

export const DIALBACK_SECRET = 'sekrit-dialback-value-4f1e';

export function federationConfig(patch: Partial<FederationConfig> = {}): FederationConfig {
  return {
    enabled: true,
    dialbackSecret: DIALBACK_SECRET,
    securityMode: 'optional',
    clientCertsRequired: false,
    saslExternal: { incoming: true, outgoing: true },
    privacyMode: 'off',
    allow: [],
    deny: [],
    routes: [],
    ...patch,
  };
}

/** An S2sEnvironment whose settings the test changes (a new object per change, as a replicated view). */
export class MemoryEnvironment implements S2sEnvironment {
  readonly nodeName = 'cb-node1';
  readonly logs = new LogLines();
  readonly log: Logger = this.logs.logger;
  private current: FederationConfig;
  constructor(patch: Partial<FederationConfig> = {}) {
    this.current = federationConfig(patch);
  }
  config(): FederationConfig {
    return this.current;
  }
  update(patch: Partial<FederationConfig>): void {
    this.current = { ...this.current, ...patch };
  }
  credentials(): null {
    return null;
  }
  domain(): string {
    return 'example.test';
  }
}

/** A local call bridge as the router sees it: records what it is given, with its own high-water and holds. */
export class MemoryBridge implements Route {
  readonly delivered: string[] = [];
  readonly holds = new Set<HoldReason>();
  highWater = Number.POSITIVE_INFINITY;
  private drainWaiters: Array<() => void> = [];
  constructor(readonly address: string) {}
  deliver(raw: string): boolean {
    this.delivered.push(raw);
    return this.delivered.length < this.highWater;
  }
  replaced(): void {}
  onDrained(callback: () => void): void {
    this.drainWaiters.push(callback);
  }
  drain(): void {
    this.highWater = Number.POSITIVE_INFINITY;
    for (const cb of this.drainWaiters.splice(0)) cb();
  }
  hold(reason: HoldReason): void {
    this.holds.add(reason);
  }
  release(reason: HoldReason): void {
    this.holds.delete(reason);
  }
  /** The error condition of each stanza it was given, in order (undefined for a non-error). */
  conditions(): Array<string | undefined> {
    return this.delivered.map((raw) => {
      const el = parseStanza(raw);
      if (el.attrs.type !== 'error') return undefined;
      return el.getChild('error')?.getChildElements()[0]?.name;
    });
  }
}
