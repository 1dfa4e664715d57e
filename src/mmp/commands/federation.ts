import { OperatorError } from '../../base/operator-error.js';
import { directionProblem, POLICY_DIRECTIONS, type FederationChange } from '../../node/federation-settings.js';
import type { XmppNode } from '../../node/xmpp-node.js';
import { newDialbackSecret } from '../../s2s/dialback-key.js';
import type { PolicyDirection, PrivacyMode, StreamDirection } from '../../s2s/federation-policy.js';
import type { SecurityMode } from '../../s2s/server-streams.js';
import type { CommandSpec } from '../command.js';
import { connectionsJson, federationStatusJson, formatConnections, formatFederationStatus, formatPolicyList, formatRoutes } from '../federation-layout.js';
import { json } from '../layout.js';

/**
 * `xmpp federation ...` (federation.md, "Commands"). Every setting is the
 * configuration's: the node's own when standalone, the cluster's (the same
 * on every member) otherwise. Changes print nothing, except a generated
 * dialback secret, printed once and never shown again.
 */

export interface FederationCommandsOptions {
  node: XmppNode;
  /** For `Idle` (tests fix it). */
  now?: () => number;
}

function onOff(word: string): boolean {
  if (word === 'on' || word === 'off') return word === 'on';
  throw new OperatorError(`'${word}' is not on or off`);
}

function streamDirection(word: string): StreamDirection {
  if (word === 'incoming' || word === 'outgoing') return word;
  throw new OperatorError(`'${word}' is not a direction; give incoming or outgoing`);
}

function policyDirection(word: string | undefined): PolicyDirection {
  if (word === undefined) return 'both';
  if (POLICY_DIRECTIONS.includes(word as PolicyDirection)) return word as PolicyDirection;
  throw new OperatorError(directionProblem(word));
}

export function federationCommands({ node, now = Date.now }: FederationCommandsOptions): CommandSpec[] {
  const change = async (c: FederationChange): Promise<string> => {
    await node.federation.change(c);
    return '';
  };
  const setting = (word: string, usage: string, summary: string, args: readonly [number, number], make: (args: string[]) => FederationChange): CommandSpec => ({
    path: ['xmpp', 'federation', ...word.split(' ')],
    usage,
    summary,
    args,
    run: (ctx) => change(make(ctx.args)),
  });
  const lists = (['allow', 'deny'] as const).flatMap((list): CommandSpec[] => [
    setting(`${list} add`, `xmpp federation ${list} add <domain> [both|incoming|outgoing]`, `put a domain or *.domain on the ${list} list, for both directions unless given`, [1, 2], ([domain, dir]) => ({
      type: 'list-add',
      list,
      domain: domain!,
      direction: policyDirection(dir),
    })),
    setting(`${list} del`, `xmpp federation ${list} del <domain>`, `take a domain or *.domain off the ${list} list`, [1, 1], ([domain]) => ({ type: 'list-del', list, domain: domain! })),
    {
      path: ['xmpp', 'federation', list, 'list'],
      usage: `xmpp federation ${list} list [--json]`,
      summary: `show the ${list} list: one domain and its direction a line, sorted`,
      args: [0, 0],
      run: async (ctx) => {
        const entries = node.federation.settings()[list];
        return ctx.json ? json(entries.map((e) => ({ domain: e.domain, direction: e.direction }))) : formatPolicyList(entries);
      },
    },
  ]);
  return [
    setting('enable', 'xmpp federation enable', 'federate with other XMPP domains on 5269 (generates the dialback secret if there is none)', [0, 0], () => ({ type: 'enabled', enabled: true })),
    setting('disable', 'xmpp federation disable', 'stop federating; open server-to-server connections close', [0, 0], () => ({ type: 'enabled', enabled: false })),
    {
      path: ['xmpp', 'federation', 'status'],
      usage: 'xmpp federation status [--json]',
      summary: 'show the federation settings and how many connections are open',
      args: [0, 0],
      run: async (ctx) => {
        const f = node.federation.settings();
        const survey = await node.federation.survey();
        return ctx.json ? json(federationStatusJson(f, survey)) : formatFederationStatus(f, survey);
      },
    },
    {
      path: ['xmpp', 'federation', 'dialback-secret'],
      usage: 'xmpp federation dialback-secret [<secret>]',
      summary: 'set the dialback secret every node of the cluster signs keys with; none given: generate one (printed once)',
      args: [0, 1],
      run: async (ctx) => {
        const given = ctx.args[0];
        const secret = given ?? newDialbackSecret();
        await node.federation.change({ type: 'dialback-secret', secret });
        // The only time it is ever shown: status says `set`, logs never carry it.
        return given === undefined ? `Dialback secret: ${secret}` : '';
      },
    },
    setting('security', 'xmpp federation security none | optional | required', 'TLS on server-to-server streams: none, optional, or required (default)', [1, 1], ([mode]) => ({ type: 'security', mode: mode as SecurityMode })),
    setting('client-certs', 'xmpp federation client-certs on | off', "on: a peer's certificate must chain to the CA bundle and name its domain; off: dialback over TLS otherwise", [1, 1], ([word]) => ({
      type: 'client-certs',
      required: onOff(word!),
    })),
    setting('sasl-external', 'xmpp federation sasl-external incoming | outgoing on | off', 'offer (incoming) or use (outgoing) SASL EXTERNAL when certificates allow it', [2, 2], ([dir, word]) => ({
      type: 'sasl-external',
      direction: streamDirection(dir!),
      enabled: onOff(word!),
    })),
    setting('privacy', 'xmpp federation privacy off | allow | deny', 'which domains federate: all (off), those on the allow list, or all but the deny list', [1, 1], ([mode]) => ({ type: 'privacy', mode: mode as PrivacyMode })),
    ...lists,
    setting('route add', 'xmpp federation route add <domain> <host>[:<port>]', 'reach a domain at this address (port 5269 unless given) instead of by DNS', [2, 2], ([domain, target]) => ({ type: 'route-add', domain: domain!, target: target! })),
    setting('route del', 'xmpp federation route del <domain> [<host>[:<port>]]', "remove one static route of a domain, or all of them (then it is found by DNS again)", [1, 2], ([domain, target]) =>
      target === undefined ? { type: 'route-del', domain: domain! } : { type: 'route-del', domain: domain!, target },
    ),
    {
      path: ['xmpp', 'federation', 'route', 'list'],
      usage: 'xmpp federation route list [--json]',
      summary: 'show the static routes: one domain and host:port a line',
      args: [0, 0],
      run: async (ctx) => {
        const routes = node.federation.settings().routes;
        return ctx.json ? json(routes.map((r) => ({ domain: r.domain, targets: [...r.targets] }))) : formatRoutes(routes);
      },
    },
    {
      path: ['xmpp', 'federation', 'connections'],
      usage: 'xmpp federation connections [--json]',
      summary: 'show every server-to-server connection open now, on every node of the cluster',
      args: [0, 0],
      run: async (ctx) => {
        const survey = await node.federation.survey();
        return ctx.json ? json(connectionsJson(survey, now())) : formatConnections(survey, now());
      },
    },
  ];
}
