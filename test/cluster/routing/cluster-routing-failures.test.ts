import { afterEach, describe, expect, it } from 'vitest';
import { A, afterFrame, B, describeReceived, DOMAIN, message, pump, range, RoutingCluster, type WatchedRoute } from './routing-cluster.js';

/**
 * The failures and races the cluster router must come through: a slow call
 * bridge, a bridge that moves, leaders that come and go, partitions, and the
 * orderings of messages that once lost or doubled a stanza.
 */

let cluster: RoutingCluster;

afterEach(async () => {
  await cluster?.close();
});

describe('harder cases', () => {
  it('holds a sender on another member while the destination is over its mark, and releases it when it drains', async () => {
    cluster = await RoutingCluster.start(3, { maxUnacked: { stanzas: 20 } });
    const a = cluster.session('n2', 'a');
    const b = cluster.session('n3', 'b');
    cluster.setLeader('n1');
    b.full = true;
    await pump(cluster, 'n2', a, B, 1, 30);
    await cluster.until(() => b.numbers().length === 30, describeReceived(b));
    // Written, but not confirmed while b's queue is over its mark: the sender stays held.
    expect(a.held).toBe(true);
    expect(cluster.router('n2').unconfirmed().stanzas).toBe(30);
    b.drain();
    await cluster.until(() => !a.held, () => `a still held, ${cluster.router('n2').unconfirmed().stanzas} unconfirmed`);
    await cluster.settled();
  });

  it('keeps order and loses nothing when the same call bridge moves to another member under traffic', async () => {
    cluster = await RoutingCluster.start(3);
    const a = cluster.session('n2', 'a');
    const b = cluster.session('n3', 'b');
    cluster.setLeader('n1');
    let newer: WatchedRoute | undefined;
    await pump(cluster, 'n2', a, B, 1, 300, 10, (n) => {
      if (n === 100) newer = cluster.session('n1', 'b');
    });
    await cluster.until(() => newer!.numbers().at(-1) === 300, describeReceived(newer!));
    await cluster.settled();
    const first = b.numbers();
    // Nothing is written to both: the old session got a prefix, the new one the rest.
    expect([...first, ...newer!.numbers()]).toEqual(range(1, 300));
    expect(b.replacedTimes).toBe(1);
  });

  it('holds stanzas for a call bridge that reconnects elsewhere while the leader it was on dies', async () => {
    cluster = await RoutingCluster.start(3);
    const a = cluster.session('n2', 'a');
    cluster.session('n1', 'b');
    cluster.setLeader('n1');
    await cluster.until(() => cluster.router('n1').sessions().length === 2, () => 'the leader has not got both reports');
    await cluster.crash('n1');
    cluster.setLeader('n2');
    // n3 has not reported to the new leader yet, and b is unknown to it: held, not bounced.
    await pump(cluster, 'n2', a, B, 1, 20);
    const again = cluster.session('n3', 'b');
    await cluster.until(() => again.numbers().length >= 20, describeReceived(again));
    expect(again.numbers()).toEqual(range(1, 20));
    expect(a.errors()).toEqual([]);
    await cluster.settled();
  });

  it('loses and duplicates nothing when a member forgets the leader for a while and finds it again', async () => {
    cluster = await RoutingCluster.start(3);
    const a = cluster.session('n2', 'a');
    const b = cluster.session('n3', 'b');
    cluster.setLeader('n1');
    await Promise.all([
      pump(cluster, 'n2', a, B, 1, 500, 10, (n) => {
        if (n === 150) cluster.setLeader(undefined, ['n3']);
        if (n === 200) cluster.setLeader('n1', ['n3']);
        if (n === 300) cluster.setLeader(undefined, ['n2']);
        if (n === 320) cluster.setLeader('n1', ['n2']);
      }),
      pump(cluster, 'n3', b, A, 1, 500, 10),
    ]);
    await cluster.until(() => b.numbers().length >= 500 && a.numbers().length >= 500, describeReceived(b));
    await cluster.settled();
    expect(b.numbers()).toEqual(range(1, 500));
    expect(a.numbers()).toEqual(range(1, 500));
  });

  it('delivers across a partition once it heals, in order', async () => {
    cluster = await RoutingCluster.start(3);
    const a = cluster.session('n2', 'a');
    const b = cluster.session('n3', 'b');
    cluster.setLeader('n1');
    await pump(cluster, 'n2', a, B, 1, 100, 10, (n) => {
      if (n === 30) cluster.network.cut('n1', 'n3');
      if (n === 70) cluster.network.heal('n1', 'n3');
    });
    await cluster.until(() => b.numbers().at(-1) === 100, describeReceived(b));
    await cluster.settled();
    expect(b.numbers()).toEqual(range(1, 100));
    expect(a.errors()).toEqual([]);
  });
});

describe('races the leader resolves', () => {
  it('sends again, in order, what reached a member after the session ended there, when the call bridge reconnects to the same member', async () => {
    // One frame per message (members of a release before batch frames), so
    // that b is back between the first delivery and the others.
    cluster = await RoutingCluster.start(3, {}, ['n1', 'n2', 'n3']);
    const { a, b } = await cluster.bridgesWithDelivered(10);
    // The leader sends 11..20 to member 3 before it hears that b left; b is back
    // after the first of them arrived there, before the others.
    let newer: WatchedRoute | undefined;
    afterFrame(cluster, 'n3', (m) => m.t === 'dlv', () => (newer = cluster.session('n3', 'b')));
    for (const n of range(11, 20)) cluster.router('n2').route(message(A, B, n), a);
    cluster.router('n3').detach(b);
    await cluster.until(() => newer?.numbers().at(-1) === 20, () => (newer ? describeReceived(newer)() : 'b has not reconnected'));
    await cluster.settled();
    expect(newer!.numbers()).toEqual(range(11, 20));
  });

  it('sends again, in order, a batch that reached a member after the session ended there, when the call bridge reconnects to the same member', async () => {
    cluster = await RoutingCluster.start(3);
    const { a, b } = await cluster.bridgesWithDelivered(10);
    // The leader has 11..20 when b leaves member 3, and its batch of them
    // crosses b's detach; b is back once the batch arrived there.
    let newer: WatchedRoute | undefined;
    afterFrame(cluster, 'n1', (m) => m.t === 'fwd' && m.stanza.raw.includes(`id='m20'`), () => cluster.router('n3').detach(b));
    afterFrame(cluster, 'n3', (m) => m.t === 'dlv', () => (newer = cluster.session('n3', 'b')));
    for (const n of range(11, 20)) cluster.router('n2').route(message(A, B, n), a);
    await cluster.until(() => newer?.numbers().at(-1) === 20, () => (newer ? describeReceived(newer)() : 'b has not reconnected'));
    await cluster.settled();
    expect(newer!.numbers()).toEqual(range(11, 20));
    expect(b.numbers()).toEqual(range(1, 10));
  });

  it('moves what the old member did not write to a newer session elsewhere, when the old one ended at the same time', async () => {
    cluster = await RoutingCluster.start(3);
    const { a, b } = await cluster.bridgesWithDelivered(10);
    // The leader has sent 11..20 to member 3 when b connects to it; b's old
    // session on member 3 ended before those arrived.
    let newer: WatchedRoute | undefined;
    afterFrame(cluster, 'n1', (m) => m.t === 'fwd' && m.stanza.raw.includes(`id='m20'`), () => (newer = cluster.session('n1', 'b')));
    for (const n of range(11, 20)) cluster.router('n2').route(message(A, B, n), a);
    cluster.router('n3').detach(b);
    await cluster.until(() => newer?.numbers().at(-1) === 20, () => (newer ? describeReceived(newer)() : 'b has not reconnected'));
    await cluster.settled();
    expect(newer!.numbers()).toEqual(range(11, 20));
    expect(b.numbers()).toEqual(range(1, 10));
  });

  it('confirms again, without writing again, a stanza resent after its confirmation was lost, though its call bridge moved', async () => {
    cluster = await RoutingCluster.start(3);
    const a = cluster.session('n2', 'a');
    const b = cluster.session('n3', 'b');
    cluster.setLeader('n1');
    await cluster.until(() => cluster.router('n1').sessions().length === 2, () => 'the leader has not got both reports');
    // Member 3's confirmations to member 2 are lost with the link between them.
    cluster.network.cut('n2', 'n3');
    await pump(cluster, 'n2', a, B, 1, 10);
    await cluster.until(() => b.numbers().length === 10, describeReceived(b));
    const newer = cluster.session('n1', 'b');
    await cluster.until(() => b.replacedTimes === 1, () => 'the old session was not told');
    expect(cluster.router('n2').unconfirmed().stanzas).toBe(10);
    // The link is back: member 2 sends the ten again; the leader knows they were written.
    cluster.network.heal('n2', 'n3');
    await cluster.settled();
    expect(newer.received).toEqual([]);
    expect(b.numbers()).toEqual(range(1, 10));
  });
});
