/**
 * The replicated cluster state: commands validated before proposal, applied
 * deterministically and once per client sequence number, snapshots that
 * round-trip byte for byte, and the whole thing driven through a real Raft
 * cluster where a retried proposal commits twice but applies once.
 */
import { describe, expect, it } from 'vitest';
import { encodeConfChange } from '../../../cluster/raft/membership.js';
import {
  addCallbridge,
  addStaticRoute,
  addToPolicyList,
  batch,
  deleteCallbridge,
  deleteFromPolicyList,
  deleteStaticRoute,
  setDialbackSecret,
  setDomain,
  setFederationEnabled,
  setInsecureLabTrust,
  setPrivacyMode,
  setSaslExternal,
  setSecurityMode,
  setTrustBundle,
  type ClusterCommand,
} from '../../../cluster/state/commands.js';
import { ClusterState, MAX_CLIENT_SESSIONS } from '../../../cluster/state/cluster-state.js';
import { InvalidCommandError, StateSnapshotError } from '../../../cluster/state/errors.js';
import { decodeProposal, encodeProposal } from '../../../cluster/state/proposal.js';
import { encodeMemberInfo } from '../../../cluster/state/member-info.js';
import { Harness } from '../raft/harness.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQk\n-----END CERTIFICATE-----\n';
let seq = 0;
const prop = (command: ClusterCommand, client = 'cli-1', s = ++seq) => encodeProposal({ client, seq: s, command });

describe('command validation (before proposal)', () => {
  it('refuses malformed values with a message an operator can act on', () => {
    expect(() => setDomain('bad_domain.com')).toThrow(InvalidCommandError);
    expect(() => setDomain('a'.repeat(64) + '.com')).toThrow(/valid DNS name/);
    expect(() => addCallbridge('-cb1', 'secret')).toThrow(/DNS label/);
    expect(() => addCallbridge('cb1', '')).toThrow(/callbridge secret is empty/);
    expect(() => addCallbridge('cb1', 'has space')).toThrow(/whitespace or control/);
    expect(() => addCallbridge('cb1', 'tab\there')).toThrow(/whitespace or control/);
    expect(() => setTrustBundle('not pem')).toThrow(/no PEM certificate/);
    expect(() => setDialbackSecret('')).toThrow(/dialback secret is empty/);
    expect(() => setSecurityMode('maybe' as never)).toThrow(/none, optional or required/);
    expect(() => addToPolicyList('allow', 'exa mple.com')).toThrow(InvalidCommandError);
    expect(() => addStaticRoute('example.com', 'host:99999')).toThrow(/outside 1–65535/);
    expect(() => addStaticRoute('example.com', 'bad host')).toThrow(/not a host name/);
  });

  it('normalizes what it accepts: lower-case domains, default port 5269, bracketed IPv6', () => {
    expect(setDomain('Example.COM')).toEqual({ type: 'set-domain', domain: 'example.com' });
    expect(addStaticRoute('Partner.net', 'XMPP.partner.net')).toMatchObject({ target: 'xmpp.partner.net:5269' });
    expect(addStaticRoute('partner.net', '[2001:DB8::1]:5270')).toMatchObject({ target: '[2001:db8::1]:5270' });
    expect(addToPolicyList('deny', '*.Spam.example', 'incoming')).toMatchObject({ domain: '*.spam.example', direction: 'incoming' });
  });

  it('round-trips a proposal envelope and rejects foreign or damaged entries', () => {
    const bytes = encodeProposal({ client: 'n1/42', seq: 7, command: addCallbridge('cb1', 's3cret') });
    expect(decodeProposal(bytes)).toEqual({ client: 'n1/42', seq: 7, command: { type: 'callbridge-add', name: 'cb1', secret: 's3cret' } });
    expect(() => decodeProposal('{"v":2,"client":"x","seq":1,"cmd":{}}')).toThrow(/version/);
    expect(() => decodeProposal('{"v":1,"client":"x","seq":0,"cmd":{"type":"set-domain","domain":"a.b"}}')).toThrow(/sequence/);
    expect(() => decodeProposal('{"v":1,"client":"x","seq":1,"cmd":{"type":"callbridge-add","name":"cb1","secret":"a b"}}')).toThrow(/whitespace/);
    expect(() => encodeProposal({ client: '', seq: 1, command: setDomain('a.b') })).toThrow(/client id/);
  });
});

describe('ClusterState apply', () => {
  it('keeps the call-bridge registry: add, refuse a duplicate name, delete, refuse an unknown name', () => {
    const s = new ClusterState();
    expect(s.apply(prop(setDomain('tptac9.com'))).outcome).toEqual({ status: 'applied' });
    expect(s.apply(prop(addCallbridge('cb2', 'uBiLLdIU8vVQgj86CAb1'))).outcome.status).toBe('applied');
    expect(s.apply(prop(addCallbridge('cb1', 'kvgP1SRzWVabhiPVAb1'))).outcome.status).toBe('applied');
    expect(s.apply(prop(addCallbridge('cb1', 'other'))).outcome).toEqual({
      status: 'rejected',
      reason: 'callbridge cb1 already exists; del it first to change its secret',
    });
    expect(s.callbridges()).toEqual([
      { name: 'cb1', secret: 'kvgP1SRzWVabhiPVAb1' },
      { name: 'cb2', secret: 'uBiLLdIU8vVQgj86CAb1' },
    ]);
    expect(s.apply(prop(deleteCallbridge('cb2'))).outcome.status).toBe('applied');
    expect(s.apply(prop(deleteCallbridge('cb2'))).outcome).toEqual({ status: 'rejected', reason: 'no callbridge named cb2' });
    expect(s.domain()).toBe('tptac9.com');
    expect(s.callbridges().map((c) => c.name)).toEqual(['cb1']);
  });

  it('applies a retried proposal once, and answers the retry with the first outcome', () => {
    const s = new ClusterState();
    const add = prop(addCallbridge('cb1', 'first'), 'cli-retry', 1);
    expect(s.apply(add).outcome).toEqual({ status: 'applied' });
    s.apply(prop(deleteCallbridge('cb1'), 'someone-else', 1));
    // The retry of the add commits after the delete: it must not bring cb1 back.
    expect(s.apply(add).outcome).toEqual({ status: 'duplicate' });
    expect(s.callbridges()).toEqual([]);
    const refused = prop(deleteCallbridge('cb9'), 'cli-retry', 2);
    expect(s.apply(refused).outcome.status).toBe('rejected');
    expect(s.apply(refused).outcome).toEqual({ status: 'duplicate', rejected: 'no callbridge named cb9' });
  });

  it('keeps federation settings with exclusive allow and deny lists', () => {
    const s = new ClusterState();
    expect(s.federation()).toMatchObject({ enabled: false, securityMode: 'required', privacyMode: 'allow', saslExternal: { incoming: true, outgoing: true } });
    for (const c of [
      setFederationEnabled(true),
      setDialbackSecret('d1alback'),
      setSecurityMode('optional'),
      setSaslExternal('outgoing', false),
      setPrivacyMode('deny'),
      addToPolicyList('allow', 'example.org'),
      addToPolicyList('deny', '*.spam.example', 'incoming'),
      addStaticRoute('partner.net', 'xmpp.partner.net'),
      addStaticRoute('partner.net', '192.0.2.7:5270'),
    ]) {
      expect(s.apply(prop(c)).outcome.status).toBe('applied');
    }
    expect(s.apply(prop(addToPolicyList('deny', 'example.org'))).outcome).toEqual({
      status: 'rejected',
      reason: 'example.org is on the allow list; delete it there first',
    });
    expect(s.federation()).toEqual({
      enabled: true,
      dialbackSecret: 'd1alback',
      securityMode: 'optional',
      clientCertsRequired: false,
      saslExternal: { incoming: true, outgoing: false },
      privacyMode: 'deny',
      allow: [{ domain: 'example.org', direction: 'both' }],
      deny: [{ domain: '*.spam.example', direction: 'incoming' }],
      routes: [{ domain: 'partner.net', targets: ['192.0.2.7:5270', 'xmpp.partner.net:5269'] }],
    });
    s.apply(prop(deleteStaticRoute('partner.net', '192.0.2.7:5270')));
    s.apply(prop(deleteFromPolicyList('allow', 'example.org')));
    expect(s.apply(prop(deleteStaticRoute('nowhere.net'))).outcome.status).toBe('rejected');
    expect(s.federation().routes).toEqual([{ domain: 'partner.net', targets: ['xmpp.partner.net:5269'] }]);
    expect(s.federation().allow).toEqual([]);
  });

  it('applies a batch whole or not at all', () => {
    const s = new ClusterState();
    s.apply(prop(addCallbridge('cb1', 'one')));
    const refused = s.apply(prop(batch([setDomain('new.example'), addCallbridge('cb2', 'two'), addCallbridge('cb1', 'dup')])));
    expect(refused.outcome.status).toBe('rejected');
    expect(s.domain()).toBeNull();
    expect(s.callbridges().map((c) => c.name)).toEqual(['cb1']);
    expect(s.apply(prop(batch([setDomain('new.example'), addCallbridge('cb2', 'two'), setInsecureLabTrust()]))).outcome.status).toBe('applied');
    expect([s.domain(), s.callbridges().length, s.trust()]).toEqual(['new.example', 2, { kind: 'insecure-lab' }]);
  });

  it('skips an entry that is not a proposal, the same way on every node', () => {
    const s = new ClusterState();
    const before = s.snapshot();
    expect(s.apply(new TextEncoder().encode('garbage')).outcome.status).toBe('ignored');
    expect(s.snapshot()).toEqual(before);
  });

  it('tracks members from committed conf changes, with the name and endpoints their context carries', () => {
    const s = new ClusterState();
    const info = (n: number) => encodeMemberInfo({ name: `cb${n}`, cluster: `10.106.81.3${n - 1}:5999`, component: `10.106.81.3${n - 1}:5222` });
    s.applyEntry({ index: 1, term: 1, type: 'conf-change', data: encodeConfChange({ type: 'add-voter', node: 'id1', context: info(1) }) });
    s.applyConfChange({ type: 'add-learner', node: 'id2', context: info(2) });
    s.applyConfChange({ type: 'promote', node: 'id2' });
    s.applyConfChange({ type: 'add-learner', node: 'id3', context: info(3) });
    s.applyConfChange({ type: 'remove', node: 'id3' });
    // A plain-address context (an older bootstrap) is kept as the cluster endpoint.
    s.applyConfChange({ type: 'add-learner', node: 'id4', context: '10.106.81.33:5999' });
    expect(s.members()).toEqual([
      { id: 'id1', name: 'cb1', cluster: '10.106.81.30:5999', component: '10.106.81.30:5222', role: 'voter' },
      { id: 'id2', name: 'cb2', cluster: '10.106.81.31:5999', component: '10.106.81.31:5222', role: 'voter' },
      { id: 'id4', name: '', cluster: '10.106.81.33:5999', component: '', role: 'learner' },
    ]);
  });

  it('keeps the trust bundle file name with its text', () => {
    const s = new ClusterState();
    s.apply(prop(setTrustBundle(PEM, 'abhiall.cer')));
    expect(s.trust()).toEqual({ kind: 'pem', pem: PEM, file: 'abhiall.cer' });
    expect(() => setTrustBundle(PEM, '../etc/passwd')).toThrow(/file name/);
    expect(ClusterState.fromSnapshot(s.snapshot()).trust()).toEqual({ kind: 'pem', pem: PEM, file: 'abhiall.cer' });
  });

  it('forgets the least recently active client session past the bound, deterministically', () => {
    const a = new ClusterState();
    const b = new ClusterState();
    for (let i = 0; i <= MAX_CLIENT_SESSIONS; i++) {
      const p = prop(setDomain(`d${i}.example`), `client-${i}`, 1);
      a.apply(p);
      b.apply(p);
    }
    expect(a.snapshot()).toEqual(b.snapshot());
    const sessions = (JSON.parse(new TextDecoder().decode(a.snapshot())) as { clients: [string][] }).clients.map(([c]) => c);
    expect(sessions).toHaveLength(MAX_CLIENT_SESSIONS);
    expect(sessions).not.toContain('client-0');
  });
});

describe('ClusterState snapshots', () => {
  function populated(): ClusterState {
    const s = new ClusterState();
    for (const c of [setDomain('tptac9.com'), addCallbridge('cb1', 'k1'), setTrustBundle(PEM), setFederationEnabled(true), addToPolicyList('allow', 'example.org'), addStaticRoute('partner.net', 'h.partner.net')]) {
      s.apply(prop(c));
    }
    s.applyConfChange({ type: 'add-voter', node: 'cb1', context: '10.0.0.1:5999' });
    return s;
  }

  it('round-trips byte for byte, including the dedup sessions', () => {
    const s = populated();
    const snap = s.snapshot();
    const r = ClusterState.fromSnapshot(snap);
    expect(r.snapshot()).toEqual(snap);
    expect(r.callbridges()).toEqual(s.callbridges());
    expect(r.federation()).toEqual(s.federation());
    // The restored node still recognizes a retry.
    const again = encodeProposal({ client: 'cli-1', seq, command: setDomain('other.example') });
    expect(r.apply(again).outcome.status).toBe('duplicate');
  });

  it('is versioned, and refuses a version it does not know or a damaged document', () => {
    const snap = JSON.parse(new TextDecoder().decode(populated().snapshot())) as Record<string, unknown>;
    expect(snap.version).toBe(3);
    const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
    expect(() => ClusterState.fromSnapshot(enc({ ...snap, version: 99 }))).toThrow(/version 99 is not supported/);
    expect(() => ClusterState.fromSnapshot(enc({ ...snap, callbridges: 'x' }))).toThrow(StateSnapshotError);
    expect(() => ClusterState.fromSnapshot(enc({ ...snap, trust: { kind: 'pem' } }))).toThrow(StateSnapshotError);
    expect(() => ClusterState.fromSnapshot(new TextEncoder().encode('{'))).toThrow(StateSnapshotError);
    const s = populated();
    const before = s.snapshot();
    expect(() => s.restore(enc({ ...snap, version: 99 }))).toThrow(StateSnapshotError);
    expect(s.snapshot()).toEqual(before);
  });

  it('migrates a version 1 snapshot, whose members held their context as an address', () => {
    const v2 = JSON.parse(new TextDecoder().decode(populated().snapshot())) as Record<string, unknown>;
    const v1 = { ...v2, version: 1, members: [['cb1', { address: '10.0.0.1:5999', role: 'voter' }]] };
    const r = ClusterState.fromSnapshot(new TextEncoder().encode(JSON.stringify(v1)));
    expect(r.members()).toEqual([{ id: 'cb1', name: '', cluster: '10.0.0.1:5999', component: '', role: 'voter' }]);
  });
});

describe('ClusterState over a real Raft cluster', () => {
  it('reaches the same state on every node, applies a retried proposal once, and survives snapshot install', () => {
    const h = new Harness(['n1', 'n2', 'n3'], { foreignSnapshots: true });
    const states = new Map(['n1', 'n2', 'n3'].map((id) => [id, new ClusterState()]));
    const applyAll = () => {
      for (const [id, n] of h.nodes) {
        const st = states.get(id)!;
        for (const e of n.applied.splice(0)) st.applyEntry(e);
      }
    };
    h.elect('n1');
    const add = encodeProposal({ client: 'n2/cli', seq: 1, command: addCallbridge('cb1', 'kvgP1SRzWVabhiPVAb1') });
    h.get('n2').propose(add);
    h.stabilize();
    // The CLI on n2 timed out and retried: the log now holds the command twice.
    h.get('n3').propose(add);
    h.get('n1').propose(encodeProposal({ client: 'n1/cli', seq: 1, command: setDomain('tptac9.com') }));
    h.stabilize();
    h.tickAll(1);
    h.stabilize();
    applyAll();
    const snaps = [...states.values()].map((s) => new TextDecoder().decode(s.snapshot()));
    expect(new Set(snaps).size).toBe(1);
    expect(states.get('n3')!.callbridges()).toEqual([{ name: 'cb1', secret: 'kvgP1SRzWVabhiPVAb1' }]);
    expect(states.get('n3')!.members().map((m) => m.id)).toEqual(['n1', 'n2', 'n3']);

    // n3 falls behind a compaction and catches up from the leader's snapshot of this state.
    h.isolate('n3');
    h.get('n1').propose(encodeProposal({ client: 'n1/cli', seq: 2, command: deleteCallbridge('cb1') }));
    h.stabilize();
    applyAll();
    const leader = h.nodes.get('n1')!;
    const applied = leader.node.status().applied;
    leader.storage.createSnapshot(applied, leader.node.confState(), states.get('n1')!.snapshot());
    leader.storage.compact(applied);
    h.heal();
    for (let i = 0; i < 3; i++) {
      h.tickAll(1);
      h.stabilize();
    }
    const n3 = h.nodes.get('n3')!;
    expect(n3.storage.snapshot().metadata.index).toBe(applied);
    const restored = ClusterState.fromSnapshot(n3.storage.snapshot().data);
    expect(restored.snapshot()).toEqual(states.get('n1')!.snapshot());
    expect(restored.callbridges()).toEqual([]);
  });
});
