import { DnsResponder, type DnsResponderCounters } from '../dns/dns-responder.js';
import type { DnsZone } from '../dns/zone.js';
import { OperatorError } from '../base/operator-error.js';
import type { Logger } from '../observability/logger.js';
import { formatDnsEndpoint, type DnsEndpoint } from './dns-settings.js';


export interface DnsServiceOptions {
  readonly log: Logger;
  /** The zone to serve now (null: no domain yet, so every query is refused). */
  readonly zone: () => DnsZone | null;
  /**
   * How often the zone is recomputed. Health changes (a member the cluster
   * stops hearing from) have no event of their own, so the responder looks
   * again at this interval: the answers follow the cluster within it.
   * Default 200 ms, a fraction of the 5 s TTL call bridges cache for.
   */
  readonly refreshMs?: number;
}

/**
 * The node's health-aware DNS responder at run time: listening where `xmpp
 * dns listen` says while `xmpp dns enable` holds, serving the zone of the
 * cluster's live members. The node calls `apply` after every change of
 * those settings and `refresh` after every configuration change.
 */
export class DnsService {
  private responder: DnsResponder | undefined;
  private endpoints: readonly DnsEndpoint[] = [];
  private served = '';
  private timer: NodeJS.Timeout | undefined;
  /** What responders closed since the node started counted: each `apply` may replace the responder, the metrics never go back. */
  private readonly closedCounts = { answered: 0, dropped: 0, rateLimited: 0, tcpRefused: 0 };

  constructor(private readonly options: DnsServiceOptions) {}

  /** The endpoints listened on now (empty when disabled). */
  listening(): readonly DnsEndpoint[] {
    return this.responder ? this.endpoints : [];
  }

  /**
   * Listens on `endpoints` (none when `enabled` is false). When an endpoint
   * cannot be bound the responder goes back to what it had and this throws
   * one OperatorError naming the endpoint, so a command that asked for it
   * changes nothing here.
   */
  async apply(enabled: boolean, endpoints: readonly DnsEndpoint[]): Promise<void> {
    const wanted = enabled ? endpoints : [];
    if (key(wanted) === key(this.listening())) return this.refresh();
    const previous = this.listening();
    await this.stop();
    if (wanted.length === 0) return;
    try {
      await this.start(wanted);
    } catch (err) {
      if (previous.length > 0) await this.start(previous).catch(() => undefined);
      throw err;
    }
  }

  /** Queries since the node started, over every responder it ran (tcpConnections: open now). */
  counters(): DnsResponderCounters {
    const now = this.responder?.counters;
    const c = this.closedCounts;
    return {
      answered: c.answered + (now?.answered ?? 0),
      dropped: c.dropped + (now?.dropped ?? 0),
      rateLimited: c.rateLimited + (now?.rateLimited ?? 0),
      tcpRefused: c.tcpRefused + (now?.tcpRefused ?? 0),
      tcpConnections: now?.tcpConnections ?? 0,
    };
  }

  /** Serves the zone as it is now, if it changed. */
  refresh(): void {
    if (!this.responder) return;
    const zone = this.options.zone();
    const text = JSON.stringify(zone);
    if (text === this.served) return;
    this.served = text;
    this.responder.setZone(zone);
    this.options.log.debug({ event: 'dns_zone_changed', targets: zone?.component.map((r) => r.target) ?? [] }, 'the DNS responder serves a new zone');
  }

  async close(): Promise<void> {
    await this.stop();
  }

  private async start(endpoints: readonly DnsEndpoint[]): Promise<void> {
    const responder = new DnsResponder({ log: this.options.log });
    try {
      await responder.listen(endpoints.map((e) => ({ address: e.host, port: e.port })));
    } catch (err) {
      await responder.close().catch(() => undefined);
      const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
      const where = e.address !== undefined ? `${e.address}:${e.port}` : endpoints.map(show).join(' ');
      throw new OperatorError(`cannot listen for DNS on ${where}: ${e.code ?? e.message}; nothing was changed`);
    }
    this.responder = responder;
    this.endpoints = endpoints;
    this.served = '';
    this.refresh();
    this.timer = setInterval(() => this.refresh(), this.options.refreshMs ?? 200);
    this.timer.unref();
    this.options.log.info({ event: 'dns_listening', endpoints: endpoints.map(show) }, 'the DNS responder is listening');
  }

  private async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    const responder = this.responder;
    this.responder = undefined;
    if (!responder) return;
    await responder.close();
    const last = responder.counters;
    this.closedCounts.answered += last.answered;
    this.closedCounts.dropped += last.dropped;
    this.closedCounts.rateLimited += last.rateLimited;
    this.closedCounts.tcpRefused += last.tcpRefused;
    this.options.log.info({ event: 'dns_stopped' }, 'the DNS responder stopped');
  }
}

const show = formatDnsEndpoint;

function key(endpoints: readonly DnsEndpoint[]): string {
  return endpoints.map(show).sort().join(' ');
}
