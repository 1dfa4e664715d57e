import { describe, expect, it } from 'vitest';
import { addStaticRoute, addToPolicyList, setPrivacyMode, type ClusterCommand } from '../../cluster/state/commands.js';
import { ClusterState } from '../../cluster/state/cluster-state.js';
import { encodeProposal } from '../../cluster/state/proposal.js';
import {
  FederationPolicy,
  federationAllows,
  normalizeDomain,
  policyIncomingError,
  policyOutgoingError,
  refusedStreams,
  type FederationPolicySettings,
  type PolicyEntry,
  type StreamDirection,
} from '../../src/s2s/federation-policy.js';

/** Every rule of federation.md's privacy mode, lists and static routes, as decisions a peer meets. */

const NONE: FederationPolicySettings = { privacyMode: 'allow', allow: [], deny: [], routes: [] };
const settings = (s: Partial<FederationPolicySettings>): FederationPolicySettings => ({ ...NONE, ...s });
const entry = (domain: string, direction: PolicyEntry['direction'] = 'both'): PolicyEntry => ({ domain, direction });

type Row = [label: string, settings: FederationPolicySettings, domain: string, direction: StreamDirection, expected: string];

/** `expected` is `allowed:<by>` or `refused:<reason>`. */
const ROWS: Row[] = [
  // Defaults: allow mode with an empty list: nothing federates until the operator allows it.
  ['the default (allow, empty) refuses incoming', NONE, 'example.com', 'incoming', 'refused:not-on-allow-list'],
  ['the default (allow, empty) refuses outgoing', NONE, 'example.com', 'outgoing', 'refused:not-on-allow-list'],

  // Privacy off: everything, and neither list is read.
  ['off allows any domain', settings({ privacyMode: 'off' }), 'anything.example', 'incoming', 'allowed:privacy-off'],
  ['off ignores the deny list', settings({ privacyMode: 'off', deny: [entry('bad.example')] }), 'bad.example', 'outgoing', 'allowed:privacy-off'],

  // Allow mode, exact entries.
  ['allow: an exact entry allows incoming', settings({ allow: [entry('partner.net')] }), 'partner.net', 'incoming', 'allowed:allow-list'],
  ['allow: an exact entry allows outgoing', settings({ allow: [entry('partner.net')] }), 'partner.net', 'outgoing', 'allowed:allow-list'],
  ['allow: an exact entry does not cover subdomains', settings({ allow: [entry('partner.net')] }), 'chat.partner.net', 'outgoing', 'refused:not-on-allow-list'],
  ['allow: an exact entry does not cover its parent', settings({ allow: [entry('chat.partner.net')] }), 'partner.net', 'outgoing', 'refused:not-on-allow-list'],
  ['allow: another domain is refused', settings({ allow: [entry('partner.net')] }), 'other.net', 'incoming', 'refused:not-on-allow-list'],
  ['allow: the deny list is not read', settings({ allow: [entry('partner.net')], deny: [entry('partner.net')] }), 'partner.net', 'incoming', 'allowed:allow-list'],

  // Allow mode, directions.
  ['allow incoming-only: incoming allowed', settings({ allow: [entry('partner.net', 'incoming')] }), 'partner.net', 'incoming', 'allowed:allow-list'],
  ['allow incoming-only: outgoing refused', settings({ allow: [entry('partner.net', 'incoming')] }), 'partner.net', 'outgoing', 'refused:not-on-allow-list'],
  ['allow outgoing-only: outgoing allowed', settings({ allow: [entry('partner.net', 'outgoing')] }), 'partner.net', 'outgoing', 'allowed:allow-list'],
  ['allow outgoing-only: incoming refused', settings({ allow: [entry('partner.net', 'outgoing')] }), 'partner.net', 'incoming', 'refused:not-on-allow-list'],
  [
    'allow: entries add up (wildcard incoming + exact outgoing)',
    settings({ allow: [entry('*.partner.net', 'incoming'), entry('chat.partner.net', 'outgoing')] }),
    'chat.partner.net',
    'incoming',
    'allowed:allow-list',
  ],

  // Wildcards: the domain itself and its subdomains, label-aligned.
  ['*.example.com covers example.com itself', settings({ allow: [entry('*.example.com')] }), 'example.com', 'incoming', 'allowed:allow-list'],
  ['*.example.com covers a subdomain', settings({ allow: [entry('*.example.com')] }), 'chat.example.com', 'incoming', 'allowed:allow-list'],
  ['*.example.com covers a deeper subdomain', settings({ allow: [entry('*.example.com')] }), 'a.b.example.com', 'outgoing', 'allowed:allow-list'],
  ['*.example.com does not cover badexample.com', settings({ allow: [entry('*.example.com')] }), 'badexample.com', 'incoming', 'refused:not-on-allow-list'],
  ['*.example.com does not cover example.com.evil', settings({ allow: [entry('*.example.com')] }), 'example.com.evil', 'incoming', 'refused:not-on-allow-list'],
  ['*.example.com does not cover its parent com', settings({ allow: [entry('*.example.com')] }), 'com', 'incoming', 'refused:not-on-allow-list'],
  ['*.example.com does not cover xexample.com', settings({ deny: [entry('*.example.com')], privacyMode: 'deny' }), 'xexample.com', 'incoming', 'allowed:not-denied'],

  // Case and trailing dots, on both sides.
  ['domains compare case-insensitively', settings({ allow: [entry('Partner.NET')] }), 'pARTNER.net', 'incoming', 'allowed:allow-list'],
  ['a trailing dot on the domain is the same domain', settings({ allow: [entry('partner.net')] }), 'partner.net.', 'outgoing', 'allowed:allow-list'],
  ['a trailing dot on the entry is the same domain', settings({ allow: [entry('partner.net.')] }), 'partner.net', 'outgoing', 'allowed:allow-list'],
  ['a trailing dot on a wildcard entry', settings({ allow: [entry('*.Example.com.')] }), 'CHAT.example.com.', 'incoming', 'allowed:allow-list'],

  // Static routes in allow mode: allowed automatically, both directions, exact domain only.
  ['allow: a routed domain is allowed outgoing', settings({ routes: [{ domain: 'routed.net', targets: ['10.0.0.1:5269'] }] }), 'routed.net', 'outgoing', 'allowed:static-route'],
  ['allow: a routed domain is allowed incoming', settings({ routes: [{ domain: 'routed.net', targets: ['10.0.0.1:5269'] }] }), 'routed.net', 'incoming', 'allowed:static-route'],
  ['allow: a route covers no subdomain', settings({ routes: [{ domain: 'routed.net', targets: ['10.0.0.1:5269'] }] }), 'chat.routed.net', 'outgoing', 'refused:not-on-allow-list'],
  ['allow: a route compares case-insensitively', settings({ routes: [{ domain: 'Routed.Net', targets: ['h:5269'] }] }), 'routed.net.', 'outgoing', 'allowed:static-route'],
  [
    'allow: a route allows what a one-way entry does not',
    settings({ allow: [entry('routed.net', 'incoming')], routes: [{ domain: 'routed.net', targets: ['h:5269'] }] }),
    'routed.net',
    'outgoing',
    'allowed:static-route',
  ],
  ['allow: a route without targets is no route', settings({ routes: [{ domain: 'routed.net', targets: [] }] }), 'routed.net', 'outgoing', 'refused:not-on-allow-list'],

  // Deny mode.
  ['deny, empty list: everything federates', settings({ privacyMode: 'deny' }), 'example.com', 'incoming', 'allowed:not-denied'],
  ['deny: an exact entry refuses incoming', settings({ privacyMode: 'deny', deny: [entry('bad.example')] }), 'bad.example', 'incoming', 'refused:on-deny-list'],
  ['deny: an exact entry refuses outgoing', settings({ privacyMode: 'deny', deny: [entry('bad.example')] }), 'bad.example', 'outgoing', 'refused:on-deny-list'],
  ['deny: an exact entry spares its subdomains', settings({ privacyMode: 'deny', deny: [entry('bad.example')] }), 'ok.bad.example', 'outgoing', 'allowed:not-denied'],
  ['deny: a wildcard refuses the domain itself', settings({ privacyMode: 'deny', deny: [entry('*.bad.example')] }), 'bad.example', 'outgoing', 'refused:on-deny-list'],
  ['deny: a wildcard refuses a subdomain', settings({ privacyMode: 'deny', deny: [entry('*.bad.example')] }), 'x.y.bad.example', 'incoming', 'refused:on-deny-list'],
  ['deny incoming-only: outgoing allowed', settings({ privacyMode: 'deny', deny: [entry('bad.example', 'incoming')] }), 'bad.example', 'outgoing', 'allowed:not-denied'],
  ['deny incoming-only: incoming refused', settings({ privacyMode: 'deny', deny: [entry('bad.example', 'incoming')] }), 'bad.example', 'incoming', 'refused:on-deny-list'],
  ['deny outgoing-only: incoming allowed', settings({ privacyMode: 'deny', deny: [entry('bad.example', 'outgoing')] }), 'bad.example', 'incoming', 'allowed:not-denied'],
  ['deny outgoing-only: outgoing refused', settings({ privacyMode: 'deny', deny: [entry('bad.example', 'outgoing')] }), 'bad.example', 'outgoing', 'refused:on-deny-list'],
  [
    'deny: a narrower entry never takes away what a wider one denies',
    settings({ privacyMode: 'deny', deny: [entry('*.bad.example', 'both'), entry('chat.bad.example', 'incoming')] }),
    'chat.bad.example',
    'outgoing',
    'refused:on-deny-list',
  ],
  ['deny: the allow list is not read', settings({ privacyMode: 'deny', allow: [entry('bad.example')], deny: [entry('bad.example')] }), 'bad.example', 'incoming', 'refused:on-deny-list'],
  [
    'deny: a static route does not exempt a denied domain',
    settings({ privacyMode: 'deny', deny: [entry('routed.net')], routes: [{ domain: 'routed.net', targets: ['h:5269'] }] }),
    'routed.net',
    'outgoing',
    'refused:on-deny-list',
  ],

  // Not domain names: never federate, whatever the mode.
  ['an empty domain is refused even with privacy off', settings({ privacyMode: 'off' }), '', 'incoming', 'refused:invalid-domain'],
  ['a lone dot is refused', settings({ privacyMode: 'off' }), '.', 'incoming', 'refused:invalid-domain'],
  ['a pattern as a stream domain is refused', settings({ allow: [entry('*.example.com')] }), '*.example.com', 'incoming', 'refused:invalid-domain'],
  ['a domain with a space is refused', settings({ privacyMode: 'deny' }), 'exa mple.com', 'outgoing', 'refused:invalid-domain'],
  ['an empty label is refused', settings({ privacyMode: 'deny' }), 'a..example.com', 'outgoing', 'refused:invalid-domain'],
];

describe('federation.md privacy modes, lists and static routes', () => {
  it.each(ROWS)('%s', (_label, s, domain, direction, expected) => {
    const d = federationAllows(s, domain, direction);
    expect(d.allowed ? `allowed:${d.by}` : `refused:${d.reason}`).toBe(expected);
  });
});

describe('what a refusal says', () => {
  it('names the deny entry that refused, for the policy-refused event', () => {
    const d = federationAllows(settings({ privacyMode: 'deny', deny: [entry('*.bad.example', 'outgoing')] }), 'x.bad.example', 'outgoing');
    expect(d).toMatchObject({ allowed: false, reason: 'on-deny-list', entry: { domain: '*.bad.example', direction: 'outgoing' } });
    expect(!d.allowed && d.text).toContain('*.bad.example');
  });

  it('says when an allow entry covers only the other direction', () => {
    const d = federationAllows(settings({ allow: [entry('partner.net', 'incoming')] }), 'partner.net', 'outgoing');
    expect(d).toMatchObject({ allowed: false, reason: 'not-on-allow-list', entry: { domain: 'partner.net', direction: 'incoming' } });
    expect(!d.allowed && d.text).toMatch(/incoming streams only/);
  });

  it('names the entry that allowed, for the log', () => {
    const d = federationAllows(settings({ allow: [entry('*.partner.net', 'outgoing')] }), 'a.partner.net', 'outgoing');
    expect(d).toEqual({ allowed: true, by: 'allow-list', entry: { domain: '*.partner.net', direction: 'outgoing' } });
  });

  it('is <policy-violation/> for an incoming stream and <not-allowed/> (cancel) for an outgoing stanza', () => {
    const incoming = policyIncomingError('bad.example');
    expect(incoming.name).toBe('StreamError');
    expect(incoming.condition).toBe('policy-violation');
    const outgoing = policyOutgoingError('bad.example');
    expect(outgoing.name).toBe('StanzaError');
    expect(outgoing.condition).toBe('not-allowed');
    expect(outgoing.type).toBe('cancel');
  });

  it('tells the peer only the domain, never which list entry refused it', () => {
    expect(policyIncomingError('x.bad.example').text).toBe('federation with x.bad.example is not allowed');
    expect(policyOutgoingError('x.bad.example').text).toBe('federation with x.bad.example is not allowed');
  });
});

describe('a live settings change', () => {
  const streams = [
    { id: 1, domain: 'partner.net', direction: 'incoming' as const },
    { id: 2, domain: 'partner.net', direction: 'outgoing' as const },
    { id: 3, domain: 'chat.other.org', direction: 'outgoing' as const },
    { id: 4, domain: 'routed.net', direction: 'outgoing' as const },
  ];

  it('from allow to deny refuses exactly the denied domain, each direction as its entry says', () => {
    const before = new FederationPolicy(
      settings({ allow: [entry('partner.net'), entry('*.other.org')], routes: [{ domain: 'routed.net', targets: ['h:5269'] }] }),
    );
    expect(refusedStreams(before, streams)).toEqual([]);
    const after = new FederationPolicy(
      settings({ privacyMode: 'deny', deny: [entry('partner.net', 'outgoing')], routes: [{ domain: 'routed.net', targets: ['h:5269'] }] }),
    );
    expect(refusedStreams(after, streams).map((s) => s.id)).toEqual([2]);
  });

  it('removing an allow entry refuses its streams and keeps a routed domain up', () => {
    const after = new FederationPolicy(settings({ allow: [entry('*.other.org')], routes: [{ domain: 'routed.net', targets: ['h:5269'] }] }));
    expect(refusedStreams(after, streams).map((s) => s.id)).toEqual([1, 2]);
  });
});

describe("cluster/state's federation view", () => {
  it('is a FederationPolicySettings as it is, and decides as the commands set it', () => {
    const state = new ClusterState();
    let seq = 0;
    const commands: ClusterCommand[] = [
      setPrivacyMode('allow'),
      addToPolicyList('allow', '*.partner.net', 'incoming'),
      addStaticRoute('Routed.Net', 'peer.routed.net:5270'),
    ];
    for (const command of commands) expect(state.apply(encodeProposal({ client: 't', seq: ++seq, command })).outcome.status).toBe('applied');
    const view: FederationPolicySettings = state.federation();
    const policy = new FederationPolicy(view);
    expect(policy.allows('chat.partner.net', 'incoming').allowed).toBe(true);
    expect(policy.allows('chat.partner.net', 'outgoing').allowed).toBe(false);
    expect(policy.allows('routed.net', 'outgoing')).toEqual({ allowed: true, by: 'static-route' });
  });
});

describe('normalizeDomain', () => {
  it.each([
    ['Example.COM.', 'example.com'],
    ['192.0.2.1', '192.0.2.1'],
    ['a-b.example', 'a-b.example'],
    ['-ab.example', undefined],
    ['[::1]', undefined],
    ['a'.repeat(64) + '.example', undefined],
    ['', undefined],
  ])('%s → %s', (input, expected) => {
    expect(normalizeDomain(input)).toBe(expected);
  });
});
