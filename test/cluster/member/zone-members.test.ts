/**
 * zoneMembers as a function of one node's status: who is live by the
 * leader's own contact, by a follower's fresh cluster-view, by link state
 * when no fresh view exists; learners and members without an IP endpoint
 * never live; IPv6 endpoints split.
 */
import { describe, expect, it } from 'vitest';
import type { MemberStatus, PeerStatus } from '../../../cluster/member/member-status.js';
import { splitEndpoint, zoneMembers } from '../../../cluster/member/zone-members.js';

// tickMs 10, electionTicks 10, viewMs 100: one election timeout is 100 ms, a view is fresh for 200 ms.
const OPTIONS = { tickMs: 10, electionTicks: 10, viewMs: 100 };

function peer(id: string, over: Partial<PeerStatus> = {}): PeerStatus {
  return { id, name: id, cluster: `${id}:5999`, component: '10.0.0.1:5222', role: 'voter', self: false, leader: false, linkUp: true, lastContact: null, unreachableSince: null, match: 0, lag: 0, contactAgoMs: 0, ...over };
}

function status(members: PeerStatus[], viewAgeMs: number | null): MemberStatus {
  return { id: 'a', term: 2, commit: 1, applied: 1, lastIndex: 1, role: 'follower', leader: 'b', lastRoleChange: new Date(0), members, viewAgeMs };
}

const live = (s: MemberStatus) => Object.fromEntries(zoneMembers(s, OPTIONS).map((m) => [m.id, m.live]));

describe('zoneMembers', () => {
  it('by a fresh view: live when last heard from within one election timeout; itself always', () => {
    const s = status([peer('a', { self: true, contactAgoMs: 0, linkUp: false }), peer('b', { leader: true, contactAgoMs: 20 }), peer('c', { contactAgoMs: 150 }), peer('d', { contactAgoMs: null })], 50);
    expect(live(s)).toEqual({ a: true, b: true, c: false, d: false });
  });

  it("without a fresh view (none, or older than two view intervals) by this node's own links", () => {
    const members = [peer('a', { self: true }), peer('b', { linkUp: false, contactAgoMs: 5 }), peer('c', { linkUp: true, contactAgoMs: 5000 })];
    expect(live(status(members, null))).toEqual({ a: true, b: false, c: true });
    expect(live(status(members, 201))).toEqual({ a: true, b: false, c: true });
  });

  it('never serves a learner, or a member whose component endpoint is not an IP literal and port', () => {
    const s = status([peer('a', { self: true }), peer('l', { role: 'learner' }), peer('h', { component: 'cb1.example.test:5222' }), peer('e', { component: '' })], 0);
    expect(live(s)).toEqual({ a: true, l: false, h: false, e: false });
  });

  it('gives the address, the component port and the federation port 5269', () => {
    const [m] = zoneMembers(status([peer('a', { self: true, component: '[FD00::1]:5223' })], 0), OPTIONS);
    expect(m).toEqual({ id: 'a', name: 'a', address: 'fd00::1', componentPort: 5223, serverPort: 5269, live: true });
    expect(splitEndpoint('10.0.0.1:5222')).toEqual({ address: '10.0.0.1', port: 5222 });
    expect(splitEndpoint('10.0.0.1:0')).toBeUndefined();
    expect(splitEndpoint('fd00::1:5222')).toBeUndefined();
  });
});
