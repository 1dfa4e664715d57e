import { OperatorError } from '../../base/operator-error.js';
import { MAX_DNS_TTL } from '../../node/dns-settings.js';
import type { XmppNode } from '../../node/xmpp-node.js';
import { UsageError, type CommandSpec } from '../command.js';
import { dnsJson, formatDns, type DnsStatusView } from '../dns-layout.js';
import { json } from '../layout.js';

/**
 * `xmpp dns`, `xmpp dns enable|disable|listen|ttl|record` (ours; reference:
 * commands.md, "Health-aware DNS"). Enable, TTL and records are cluster-wide
 * (replicated while the node is a member, so every node answers alike);
 * `listen` belongs to the node it is typed on, as `xmpp listen` does.
 */

const RECORD_USAGE = 'xmpp dns record <peer> <target-fqdn> [<priority> <weight>] | <peer> none';

export function dnsCommands({ node }: { node: XmppNode }): CommandSpec[] {
  return [
    {
      path: ['xmpp', 'dns'],
      usage: 'xmpp dns [--json]',
      summary: 'show the DNS responder settings and the SRV and address records it would serve now',
      args: [0, 0],
      run: async (ctx) => {
        const s = node.settings();
        const view: DnsStatusView = { settings: s.dns, domain: s.domain, listen: node.dnsListen(), members: node.zoneMembers() };
        return ctx.json ? json(dnsJson(view)) : formatDns(view);
      },
    },
    {
      path: ['xmpp', 'dns', 'enable'],
      usage: 'xmpp dns enable',
      summary: 'answer DNS queries (on every node of a cluster that has listen addresses)',
      args: [0, 0],
      run: async () => {
        await node.setDnsEnabled(true);
        return '';
      },
    },
    {
      path: ['xmpp', 'dns', 'disable'],
      usage: 'xmpp dns disable',
      summary: 'stop answering DNS queries (on every node of a cluster)',
      args: [0, 0],
      run: async () => {
        await node.setDnsEnabled(false);
        return '';
      },
    },
    {
      path: ['xmpp', 'dns', 'listen'],
      usage: 'xmpp dns listen <address>[:<port>] [<address>[:<port>]...] | none',
      summary: "set the IP addresses this node's responder listens on (UDP and TCP, port 53 unless given)",
      args: [1, 16],
      run: async (ctx) => {
        await node.setDnsListen(ctx.args);
        return '';
      },
    },
    {
      path: ['xmpp', 'dns', 'ttl'],
      usage: 'xmpp dns ttl <seconds>',
      summary: `set the TTL of every record served (1 to ${MAX_DNS_TTL} s, default 5)`,
      args: [1, 1],
      run: async (ctx) => {
        await node.setDnsTtl(wholeNumber(ctx.args[0]!, `the TTL must be whole seconds from 1 to ${MAX_DNS_TTL}`));
        return '';
      },
    },
    {
      path: ['xmpp', 'dns', 'record'],
      usage: RECORD_USAGE,
      summary: "name a member's SRV target host, priority and weight (default: <node name>.<domain>, 0, 0); none restores the default",
      args: [2, 4],
      run: async (ctx) => {
        const [peer, target, priority, weight] = ctx.args as [string, string, string?, string?];
        if (ctx.args.length === 3 || (target === 'none' && ctx.args.length > 2)) throw new UsageError(RECORD_USAGE);
        if (target === 'none') {
          await node.setDnsRecord(peer, null);
          return '';
        }
        const setting = {
          target,
          priority: priority === undefined ? 0 : wholeNumber(priority, 'the priority must be a whole number from 0 to 65535'),
          weight: weight === undefined ? 0 : wholeNumber(weight, 'the weight must be a whole number from 0 to 65535'),
        };
        await node.setDnsRecord(peer, setting);
        return '';
      },
    },
  ];
}

/** Digits only (no `1e3`, `0x10`, `-1` or `5.0`); the range is the node's to check. */
function wholeNumber(word: string, problem: string): number {
  if (!/^\d{1,9}$/.test(word)) throw new OperatorError(`${problem}, not ${word}`);
  return Number(word);
}
