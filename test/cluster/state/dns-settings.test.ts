/**
 * The cluster-wide `xmpp dns` settings in the replicated state: commands
 * validated before proposal and again when decoded from the log, applied
 * alike on every node, a removed member's record dropped with it, and
 * snapshots that carry them (version 3) or migrate an older snapshot that
 * had none to the defaults.
 */
import { describe, expect, it } from 'vitest';
import { clearDnsRecord, commandProblem, setDnsEnabled, setDnsRecord, setDnsTtl, setDomain, batch, type ClusterCommand } from '../../../cluster/state/commands.js';
import { ClusterState } from '../../../cluster/state/cluster-state.js';
import { InvalidCommandError, StateSnapshotError } from '../../../cluster/state/errors.js';
import { decodeProposal, encodeProposal } from '../../../cluster/state/proposal.js';
import { encodeMemberInfo } from '../../../cluster/state/member-info.js';
import { DEFAULT_DNS_SETTINGS } from '../../../src/dns/zone.js';

let seq = 0;
const prop = (command: ClusterCommand, client = 'cli-dns', s = ++seq) => encodeProposal({ client, seq: s, command });
const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
const dec = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b)) as Record<string, unknown>;

function withMembers(...ids: string[]): ClusterState {
  const s = new ClusterState();
  for (const [i, id] of ids.entries()) {
    s.applyConfChange({ type: 'add-voter', node: id, context: encodeMemberInfo({ name: `cb${i + 1}`, cluster: `10.0.0.${i + 1}:5999`, component: `10.0.0.${i + 1}:5222` }) });
  }
  return s;
}

describe('dns commands (before proposal)', () => {
  it('refuses a TTL outside 1–86400 seconds, a target that is no DNS name, and priorities or weights outside 0–65535', () => {
    for (const ttl of [0, -1, 86401, 1.5, Number.NaN]) expect(() => setDnsTtl(ttl)).toThrow(/TTL must be an integer from 1 to 86400/);
    expect(() => setDnsRecord('id-1', 'bad_name.example.test')).toThrow(InvalidCommandError);
    expect(() => setDnsRecord('id-1', '')).toThrow(/1–253 characters/);
    expect(() => setDnsRecord('id-1', 'cb1.example.test', 65536, 0)).toThrow(/priority must be an integer from 0 to 65535/);
    expect(() => setDnsRecord('id-1', 'cb1.example.test', 0, -1)).toThrow(/weight must be an integer from 0 to 65535/);
    expect(() => setDnsRecord('', 'cb1.example.test')).toThrow(/member id is empty/);
    expect(() => clearDnsRecord('')).toThrow(/member id is empty/);
  });

  it('normalizes a target to a lower-case host name without the trailing dot, priority and weight 0 by default', () => {
    expect(setDnsRecord('id-1', 'XMPP1.Example.TEST.')).toEqual({ type: 'dns-record', id: 'id-1', target: 'xmpp1.example.test', priority: 0, weight: 0 });
    expect(setDnsTtl(86400)).toEqual({ type: 'dns-ttl', ttl: 86400 });
    expect(setDnsEnabled(true)).toEqual({ type: 'dns-enabled', enabled: true });
  });

  it('rejects a damaged dns command decoded from the log', () => {
    const entry = (cmd: unknown) => JSON.stringify({ v: 1, client: 'x', seq: 1, cmd });
    expect(() => decodeProposal(entry({ type: 'dns-ttl', ttl: '5' }))).toThrow(/TTL/);
    expect(() => decodeProposal(entry({ type: 'dns-enabled', enabled: 'yes' }))).toThrow(/boolean/);
    expect(() => decodeProposal(entry({ type: 'dns-record', id: 'a', target: 'A.example', priority: 0, weight: 0 }))).toThrow(/lower-case/);
    expect(() => decodeProposal(entry({ type: 'dns-record', id: 'a', target: 'a.example', priority: 0 }))).toThrow(/weight/);
    expect(commandProblem({ type: 'dns-record-clear', id: 'a' })).toBeUndefined();
  });
});

describe('dns settings in the replicated state', () => {
  it('starts with the defaults of src/dns/zone.ts', () => {
    const d = new ClusterState().dns();
    expect({ enabled: d.enabled, ttl: d.ttl, records: Object.fromEntries(d.records.map((r) => [r.id, r])) }).toEqual(DEFAULT_DNS_SETTINGS);
  });

  it('applies enable, TTL and records, sorted by member id; clearing an unset record changes nothing', () => {
    const s = withMembers('id-2', 'id-1');
    for (const c of [setDnsEnabled(true), setDnsTtl(30), setDnsRecord('id-2', 'xmpp2.example.test', 10, 5), setDnsRecord('id-1', 'xmpp1.example.test')]) {
      expect(s.apply(prop(c)).outcome).toEqual({ status: 'applied' });
    }
    expect(s.dns()).toEqual({
      enabled: true,
      ttl: 30,
      records: [
        { id: 'id-1', target: 'xmpp1.example.test', priority: 0, weight: 0 },
        { id: 'id-2', target: 'xmpp2.example.test', priority: 10, weight: 5 },
      ],
    });
    expect(s.apply(prop(clearDnsRecord('id-1'))).outcome).toEqual({ status: 'applied' });
    expect(s.apply(prop(clearDnsRecord('id-1'))).outcome).toEqual({ status: 'applied' });
    expect(s.dns().records.map((r) => r.id)).toEqual(['id-2']);
  });

  it('refuses a record for a member it does not know, on every node alike, and a batch holding one whole', () => {
    const s = withMembers('id-1');
    expect(s.apply(prop(setDnsRecord('id-9', 'x.example.test'))).outcome).toEqual({ status: 'rejected', reason: 'no cluster member id-9' });
    const before = s.snapshot();
    expect(s.apply(prop(batch([setDomain('example.test'), setDnsTtl(9), setDnsRecord('id-9', 'x.example.test')]))).outcome.status).toBe('rejected');
    expect(dec(s.snapshot()).dns).toEqual(dec(before).dns);
    expect(s.domain()).toBeNull();
  });

  it("drops a member's record when the member is removed; one added again starts from the default", () => {
    const s = withMembers('id-1', 'id-2');
    s.apply(prop(setDnsRecord('id-2', 'xmpp2.example.test', 1, 1)));
    s.applyConfChange({ type: 'remove', node: 'id-2' });
    expect(s.dns().records).toEqual([]);
    s.applyConfChange({ type: 'add-learner', node: 'id-2', context: encodeMemberInfo({ name: 'cb2', cluster: '10.0.0.2:5999', component: '10.0.0.2:5222' }) });
    expect(s.dns().records).toEqual([]);
  });
});

describe('dns settings in snapshots', () => {
  function populated(): ClusterState {
    const s = withMembers('id-b', 'id-a');
    for (const c of [setDnsEnabled(true), setDnsTtl(60), setDnsRecord('id-b', 'b.example.test', 2, 3), setDnsRecord('id-a', 'a.example.test', 1, 0)]) s.apply(prop(c));
    return s;
  }

  it('round-trips byte for byte, records sorted whatever the order they were set in (version 3)', () => {
    const s = populated();
    const snap = dec(s.snapshot());
    expect(snap.version).toBe(3);
    expect(snap.dns).toEqual({
      enabled: true,
      ttl: 60,
      records: [
        ['id-a', { target: 'a.example.test', priority: 1, weight: 0 }],
        ['id-b', { target: 'b.example.test', priority: 2, weight: 3 }],
      ],
    });
    const r = ClusterState.fromSnapshot(s.snapshot());
    expect(r.snapshot()).toEqual(s.snapshot());
    expect(r.dns()).toEqual(s.dns());
  });

  it('migrates a version 2 snapshot, which had no dns settings, to the defaults', () => {
    const { dns: _dns, ...v3 } = dec(populated().snapshot());
    const r = ClusterState.fromSnapshot(enc({ ...v3, version: 2 }));
    expect(r.dns()).toEqual({ enabled: false, ttl: 5, records: [] });
    expect(r.members().map((m) => m.id)).toEqual(['id-a', 'id-b']);
    expect(dec(r.snapshot()).version).toBe(3);
  });

  it('refuses a version 3 snapshot whose dns settings are missing or damaged, and keeps the old state', () => {
    const snap = dec(populated().snapshot());
    const { dns: _dns, ...withoutDns } = snap;
    expect(() => ClusterState.fromSnapshot(enc(withoutDns))).toThrow(/field dns is invalid/);
    expect(() => ClusterState.fromSnapshot(enc({ ...snap, dns: { enabled: true, ttl: 0, records: [] } }))).toThrow(/dns\.ttl/);
    expect(() => ClusterState.fromSnapshot(enc({ ...snap, dns: { enabled: true, ttl: 5, records: [['a', { target: 'x', priority: 70000, weight: 0 }]] } }))).toThrow(StateSnapshotError);
    const s = populated();
    const before = s.snapshot();
    expect(() => s.restore(enc({ ...snap, dns: null }))).toThrow(StateSnapshotError);
    expect(s.snapshot()).toEqual(before);
  });
});
