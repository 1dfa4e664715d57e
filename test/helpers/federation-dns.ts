import { startBind, type BindServer } from './bind-server.js';

/**
 * The DNS that federation peers find each other by: a real BIND, authoritative
 * for one parent zone (`test`) that holds every peer's domain, so that one
 * forwarder address serves them all (Prosody's libunbound `forward`,
 * ejabberd's Erlang resolver `nameserver`). Each domain gets what RFC 6120
 * §3.2.1 looks for: `_xmpp-server._tcp.<domain>` SRV to a host, and the
 * host's A record; a domain may also be given an A record only, for the
 * §3.2.2 fallback to the domain's address on 5269.
 */

export interface FederationDnsEntry {
  /** A federating domain: a server (`other.test`) or a component under it (`cb.other.test`). */
  domain: string;
  /** Where its s2s listener is. */
  address: string;
  /** Its s2s port; 5269 unless given. */
  port?: number;
  /** `false`: no SRV record, only the domain's own A record (the RFC 6120 §3.2.2 fallback). */
  srv?: boolean;
}

export interface FederationDns extends BindServer {
  readonly origin: string;
  /** `address@port`, as libunbound's forward takes it. */
  readonly forward: string;
  /** Serves new entries (raises the SOA serial). */
  update(entries: FederationDnsEntry[]): Promise<void>;
}

/** `port`: a fixed port (53 where ejabberd resolves through it: ejabberd-server.ts says why); by default a free one. */
export async function startFederationDns(options: { address: string; entries: FederationDnsEntry[]; origin?: string; port?: number }): Promise<FederationDns> {
  const origin = options.origin ?? 'test';
  let serial = 1;
  const bind = await startBind({ origin, address: options.address, port: options.port, zoneText: federationZone(origin, options.entries, serial) });
  return {
    ...bind,
    origin,
    forward: `${bind.address}@${bind.port}`,
    update: async (entries) => {
      serial += 1;
      await bind.reload(federationZone(origin, entries, serial));
    },
  };
}

/** Zone text for `origin` with an SRV and A record (or an A record only) per entry. */
export function federationZone(origin: string, entries: FederationDnsEntry[], serial = 1): string {
  const lines = [
    `$ORIGIN ${origin}.`,
    `$TTL 5`,
    `@ IN SOA ns.${origin}. hostmaster.${origin}. ${serial} 60 60 600 5`,
    `@ IN NS ns.${origin}.`,
    `ns IN A 127.0.0.1`,
  ];
  for (const e of entries) {
    if (!e.domain.endsWith(`.${origin}`)) throw new Error(`${e.domain} is not under ${origin}`);
    const port = e.port ?? 5269;
    if (e.srv === false) {
      lines.push(`${e.domain}. IN A ${e.address}`);
      continue;
    }
    // A host name of its own, so the SRV target is not the domain (RFC 2782: the target must have an A record).
    const host = `xmpp-s2s.${e.domain}.`;
    lines.push(`_xmpp-server._tcp.${e.domain}. IN SRV 0 0 ${port} ${host}`, `${host} IN A ${e.address}`);
  }
  return `${lines.join('\n')}\n`;
}
