import { SerialQueue } from '../base/serial-queue.js';
import { DnsService } from '../node/dns-service.js';
import type { XmppNode } from '../node/xmpp-node.js';
import type { Logger } from '../observability/logger.js';

/**
 * Runs the node's health-aware DNS responder from its settings: started at
 * boot from the data directory (so a restarted node resumes it), restarted
 * when `xmpp dns listen` or `xmpp dns enable|disable` change (typed on any
 * member, for enable), re-zoned on every other change.
 */
export interface RunningDns {
  readonly service: DnsService;
  close(): Promise<void>;
}

export async function startDns(node: XmppNode, log: Logger): Promise<RunningDns> {
  const dnsLog = log.child({ module: 'dns' });
  const service = new DnsService({ log: dnsLog, zone: () => node.dnsZone() });
  const changes = new SerialQueue();
  const apply = () =>
    changes.run(async () => {
      const endpoints = node.dnsListen();
      try {
        await service.apply(node.settings().dns.enabled, endpoints);
      } catch (err) {
        // The settings stay as the operator gave them; the next change tries again.
        dnsLog.error({ event: 'dns_listen_failed', endpoints: endpoints.map((e) => `${e.host}:${e.port}`), reason: (err as Error).message }, 'the DNS responder cannot listen');
      }
    });
  const off = node.onDnsChange(() => void apply());
  await apply();
  return {
    service,
    close: async () => {
      off();
      await changes.run(() => service.close());
    },
  };
}
