import { generateSecret } from '../../node/callbridge-registry.js';
import type { XmppNode } from '../../node/xmpp-node.js';
import { OperatorError } from '../../base/operator-error.js';
import { type CommandSpec } from '../command.js';
import { json, labelled } from '../layout.js';

/** `xmpp callbridge add|add-secret|del|list` (reference: commands.md, "Call-bridge registry"). */

export const ADDED = 'Successfully added callbridge.';
export const SECRET_PROMPT = 'Enter callbridge secret';
/** ours: a member without quorum answers from what it knows, and says so. */
export const STALE_WARNING = 'Warning: the cluster has no quorum; this list may be stale';

export function callbridgeCommands({ node }: { node: XmppNode }): CommandSpec[] {
  return [
    {
      path: ['xmpp', 'callbridge', 'add'],
      usage: 'xmpp callbridge add <name>',
      summary: 'register a call bridge and generate its secret (printed once)',
      args: [1, 1],
      run: async (ctx) => {
        const secret = generateSecret();
        await node.addCallbridge(ctx.args[0]!, secret);
        return `${ADDED}\nSecret: ${secret}`;
      },
    },
    {
      path: ['xmpp', 'callbridge', 'add-secret'],
      usage: 'xmpp callbridge add-secret <name>',
      summary: 'register a call bridge with a secret you already have (asked for, not echoed)',
      args: [1, 1],
      run: async (ctx) => {
        const name = ctx.args[0]!;
        // Refuse before asking: no point typing a secret for a name that cannot be added.
        if (node.configuration().callbridge(name)) throw new OperatorError(`callbridge ${name} already exists; del it first to change its secret`);
        const secret = await ctx.terminal.prompt(SECRET_PROMPT, { echo: false });
        if (secret === null) throw new OperatorError('no secret given; nothing was changed');
        await node.addCallbridge(name, secret.replace(/\r?\n$/, ''));
        return ADDED;
      },
    },
    {
      path: ['xmpp', 'callbridge', 'del'],
      usage: 'xmpp callbridge del <name>',
      summary: 'remove a call bridge; its open connection is closed',
      args: [1, 1],
      run: async (ctx) => {
        await node.removeCallbridge(ctx.args[0]!);
        return '';
      },
    },
    {
      path: ['xmpp', 'callbridge', 'list'],
      usage: 'xmpp callbridge list [--json]',
      summary: 'show every call bridge with its domain and secret',
      args: [0, 0],
      run: async (ctx) => {
        const domain = node.settings().domain;
        // In a cluster: linearizable through the leader, or labelled stale without a quorum.
        const { callbridges: list, stale } = await node.configuration().readCallbridges();
        // ours: a stale list marks each entry, so a script sees it without a second line.
        if (ctx.json) return json(list.map((c) => ({ callbridge: c.name, domain, secret: c.secret, ...(stale ? { stale: true } : {}) })));
        const warning = stale ? `\n${STALE_WARNING}` : '';
        if (list.length === 0) return `No callbridges configured.${warning}`;
        return (
          list.map((c) => `***\n${labelled([['Callbridge', c.name], ['Domain', domain ?? '<none>'], ['Secret', c.secret]], 10)}`).join('\n') + warning
        );
      },
    },
  ];
}
