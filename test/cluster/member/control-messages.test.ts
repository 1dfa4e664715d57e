/**
 * The control protocol refuses what is not its own before anything acts on
 * it, and the operator's words for a failed dial say which side refused.
 */
import { describe, expect, it } from 'vitest';
import { ControlDecodeError, decodeControl, encodeControl, type ControlMessage } from '../../../cluster/member/control-messages.js';
import { dialProblem, resolvePeer } from '../../../cluster/member/cluster-service-support.js';
import { TransportError } from '../../../cluster/transport/transport.js';

const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));

describe('control messages', () => {
  it('round-trips every kind', () => {
    const all: ControlMessage[] = [
      { type: 'join-request', rid: 'r1', joiner: { id: 'id-2', name: 'cb2', cluster: '10.0.0.2:5999', component: '10.0.0.2:5222' }, domain: null, callbridges: [{ name: 'cb1', secret: 's' }] },
      { type: 'join-admitted', rid: 'r1', index: 7 },
      { type: 'join-result', rid: 'r1', ok: true, peers: 3, leader: '10.0.0.1:5222' },
      { type: 'join-result', rid: 'r1', ok: false, error: 'no' },
      { type: 'member-request', rid: 'r2', op: 'remove', target: 'id-3' },
      { type: 'member-result', rid: 'r2', ok: false, error: 'moving', retry: 'leader-moved' },
      { type: 'cluster-view', term: 4, members: [{ id: 'id-1', match: 9, lag: 0, agoMs: null }] },
      { type: 'removed', id: 'id-3', index: 12 },
    ];
    for (const m of all) expect(decodeControl(encodeControl(m))).toEqual(m);
  });

  it('refuses a wrong version, an unknown type, missing or mistyped fields', () => {
    expect(() => decodeControl(new TextEncoder().encode('{'))).toThrow(ControlDecodeError);
    expect(() => decodeControl(enc({ v: 2, type: 'removed', id: 'x', index: 1 }))).toThrow(/version 2/);
    expect(() => decodeControl(enc({ v: 1, type: 'shutdown' }))).toThrow(/unknown control message type/);
    expect(() => decodeControl(enc({ v: 1, type: 'join-admitted', rid: '' , index: 1 }))).toThrow(/rid/);
    expect(() => decodeControl(enc({ v: 1, type: 'cluster-view', term: -1, members: [] }))).toThrow(/term/);
    expect(() => decodeControl(enc({ v: 1, type: 'join-request', rid: 'r', joiner: { id: '' }, domain: null, callbridges: [] }))).toThrow(ControlDecodeError);
    expect(() => decodeControl(enc({ v: 1, type: 'member-request', rid: 'r', op: 'wipe', target: 'x' }))).toThrow(/op/);
  });
});

describe('join refusals as the operator reads them', () => {
  it('names the address and which side refused which certificate', () => {
    expect(dialProblem(new TransportError('unreachable', 'cannot reach 10.0.0.7:5999 (tried for 5.0 s)'), '10.0.0.7:5999')).toBe('cannot reach 10.0.0.7:5999 (tried for 5.0 s)');
    expect(dialProblem(new TransportError('peer-untrusted', 'x'), '10.0.0.7:5999')).toMatch(/^the certificate of 10\.0\.0\.7:5999 is not trusted here/);
    expect(dialProblem(new TransportError('refused-by-peer', 'x'), '10.0.0.7:5999')).toMatch(/^10\.0\.0\.7:5999 does not trust this node's certificate/);
  });

  it('finds a member by component endpoint as status lists it, or by node name', () => {
    const members = [{ id: 'id-1', name: 'cb1', cluster: '10.0.0.1:5999', component: '10.0.0.1:5222', role: 'voter' as const }];
    expect(resolvePeer(members, '10.0.0.1:5222')?.id).toBe('id-1');
    expect(resolvePeer(members, 'CB1')?.id).toBe('id-1');
    expect(resolvePeer(members, 'cb2')).toBeUndefined();
  });
});
