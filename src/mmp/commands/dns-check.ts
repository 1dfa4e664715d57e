import { OperatorError } from '../../base/operator-error.js';
import { createResolver, lookupSrv, parseDnsServer, SrvLookupError } from '../../dns/srv-lookup.js';
import { COMPONENT_SERVICE } from '../../dns/zone.js';
import type { CommandSpec } from '../command.js';

/**
 * `xmpp dns check <domain> [@<server>[:<port>] ...]`: resolves
 * `_xmpp-component._tcp.<domain>` as a call bridge does (the same lookup
 * code as the simulator's `--srv`), printing each step, and fails with the
 * call bridge's own words. The resolvers are the system's unless named with
 * `@`, as dig names them (ours: the reference gives no way to choose one).
 */
export function dnsCheckCommand(): CommandSpec {
  return {
    path: ['xmpp', 'dns', 'check'],
    usage: 'xmpp dns check <domain> [@<server>[:<port>] ...]',
    summary: 'resolve the call-bridge SRV records step by step, as a call bridge would',
    args: [1, 4],
    run: async (ctx) => {
      const [domain, ...rest] = ctx.args as [string, ...string[]];
      const servers = rest.map((word) => {
        if (!word.startsWith('@')) throw new OperatorError(`${word}: name a DNS server as @<address>[:<port>]`);
        try {
          return parseDnsServer(word.slice(1));
        } catch {
          throw new OperatorError(`${word}: expected @<address>[:<port>], e.g. @127.0.0.1:5300`);
        }
      });
      const query = `${COMPONENT_SERVICE}.${domain.toLowerCase().replace(/\.$/, '')}`;
      const steps = [`Looking up ${query} SRV with ${servers.length > 0 ? servers.join(', ') : 'the system resolvers'}`];
      try {
        const found = await lookupSrv(domain, { resolver: createResolver({ servers, timeoutMs: 2000, tries: 1 }) });
        for (const t of found.targets) steps.push(`  ${t.priority} ${t.weight} ${t.port} ${t.target}: ${t.addresses.join(' ')}`);
        for (const name of found.unresolved) steps.push(`  ${name}: No DNS A or AAAA records`);
        steps.push(`A call bridge tries, in this order: ${found.targets.map((t) => `${t.target}:${t.port}`).join(', ')}`);
        steps.push(`It looks the name up again after ${found.ttlSeconds} s`);
        return steps.join('\n');
      } catch (err) {
        if (!(err instanceof SrvLookupError)) throw err;
        // The first error, in the call bridge's words (reference: ports-and-names.md).
        throw new OperatorError(err.message, { before: steps.join('\n') });
      }
    },
  };
}
