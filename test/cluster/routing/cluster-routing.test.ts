import { afterEach, describe, expect, it } from 'vitest';
import { BATCH_TAG, encodeRoutingMessage } from '../../../cluster/routing/routing-messages.js';
import { A, B, describeReceived, DOMAIN, message, pump, range, RoutingCluster, turn, type WatchedRoute } from './routing-cluster.js';

/**
 * Three ClusterRouters on an in-memory network, the leader set by hand as
 * the Raft wiring would: what call bridges on different members see.
 */

let cluster: RoutingCluster;

afterEach(async () => {
  await cluster?.close();
});

describe('stanzas through the leader', () => {
  it('carries a stanza from a call bridge on member 2 to one on member 3 through leader 1', async () => {
    cluster = await RoutingCluster.start(3);
    const a = cluster.session('n2', 'a');
    const b = cluster.session('n3', 'b');
    cluster.setLeader('n1');
    await cluster.until(() => cluster.router('n1').sessions().length === 2, () => 'the leader has not got both reports');
    cluster.router('n2').route(message(A, B, 1), a);
    await cluster.until(() => b.numbers().length === 1, describeReceived(b));
    await cluster.settled();
    expect(b.numbers()).toEqual([1]);
    expect(a.received).toEqual([]);
    expect([1, 2, 3].map((i) => cluster.router(`n${i}`).counters.routed)).toEqual([1, 0, 0]);
  });

  it('lets a new call bridge in only once the leader knows it, so a stanza sent to it at once from another member is delivered, not bounced', async () => {
    cluster = await RoutingCluster.start(3);
    const a = cluster.session('n2', 'a');
    cluster.setLeader('n1');
    await cluster.until(() => cluster.router('n1').sessions().length === 1, () => 'the leader has not got the first report');
    let admitted = false;
    const b = cluster.session('n3', 'b', () => {
      admitted = true;
      // What a call bridge's peer does the moment the handshake succeeds.
      cluster.router('n2').route(message(A, B, 1), a);
    });
    expect(admitted).toBe(false);
    await cluster.until(() => b.numbers().length === 1 || a.received.length > 0, describeReceived(b));
    expect(b.numbers()).toEqual([1]);
    expect(a.received).toEqual([]);
  });

  it('keeps the order of 1000 stanzas each way', async () => {
    cluster = await RoutingCluster.start(3);
    const a = cluster.session('n2', 'a');
    const b = cluster.session('n3', 'b');
    cluster.setLeader('n1');
    await Promise.all([pump(cluster, 'n2', a, B, 1, 1000, 50), pump(cluster, 'n3', b, A, 1, 1000, 50)]);
    await cluster.until(() => b.numbers().length >= 1000 && a.numbers().length >= 1000, describeReceived(b));
    await cluster.settled();
    expect(b.numbers()).toEqual(range(1, 1000));
    expect(a.numbers()).toEqual(range(1, 1000));
  });

  it('keeps the order of 1000 stanzas each way with a member of a release before batch frames, as leader or as holder', async () => {
    for (const older of ['n1', 'n3']) {
      cluster = await RoutingCluster.start(3, {}, [older]);
      const a = cluster.session('n2', 'a');
      const b = cluster.session('n3', 'b');
      cluster.setLeader('n1');
      let batches = 0;
      let toOlder = 0;
      for (const m of cluster.members) {
        m.transport.on('frame', (from, kind, payload) => {
          if (kind !== 'stanza') return;
          if (payload[0] === BATCH_TAG) batches++;
          if (m.id === older && payload[0] === BATCH_TAG) toOlder++;
        });
      }
      await Promise.all([pump(cluster, 'n2', a, B, 1, 1000, 50), pump(cluster, 'n3', b, A, 1, 1000, 50)]);
      await cluster.until(() => b.numbers().length >= 1000 && a.numbers().length >= 1000, describeReceived(b));
      await cluster.settled();
      expect(b.numbers(), `older ${older}`).toEqual(range(1, 1000));
      expect(a.numbers(), `older ${older}`).toEqual(range(1, 1000));
      // The members of this release batch between themselves, never to the older one.
      expect(batches, `older ${older}`).toBeGreaterThan(0);
      expect(toOlder, `older ${older}`).toBe(0);
      await cluster.close();
    }
  });

  it('loses nothing and duplicates nothing when the leader dies with stanzas in flight', async () => {
    cluster = await RoutingCluster.start(3);
    const a = cluster.session('n2', 'a');
    const b = cluster.session('n3', 'b');
    cluster.setLeader('n1');
    let crashed = false;
    let inFlight = 0;
    const crashAt = async (n: number) => {
      if (crashed || n < 300) return;
      crashed = true;
      inFlight = cluster.router('n2').unconfirmed().stanzas + cluster.router('n3').unconfirmed().stanzas;
      await cluster.crash('n1');
      // Member 3 hears of the new leader before the new leader itself does.
      cluster.setLeader('n2', ['n3']);
      cluster.setLeader('n2', ['n2']);
    };
    await Promise.all([pump(cluster, 'n2', a, B, 1, 1000, 20, crashAt), pump(cluster, 'n3', b, A, 1, 1000, 20)]);
    expect(crashed).toBe(true);
    expect(inFlight).toBeGreaterThan(0);
    await cluster.until(() => b.numbers().length >= 1000 && a.numbers().length >= 1000, describeReceived(b));
    await cluster.settled();
    expect(b.numbers()).toEqual(range(1, 1000));
    expect(a.numbers()).toEqual(range(1, 1000));
    expect(a.errors()).toEqual([]);
    expect(b.errors()).toEqual([]);
  });

  it('keeps stanzas while there is no leader and sends them, in order, once there is one', async () => {
    cluster = await RoutingCluster.start(3);
    const a = cluster.session('n2', 'a');
    const b = cluster.session('n3', 'b');
    await pump(cluster, 'n2', a, B, 1, 50);
    await turn();
    expect(b.received).toEqual([]);
    expect(cluster.router('n2').unconfirmed().stanzas).toBe(50);
    cluster.setLeader('n3');
    await cluster.until(() => b.numbers().length >= 50, describeReceived(b));
    await cluster.settled();
    expect(b.numbers()).toEqual(range(1, 50));
  });

  it('holds the sender when its buffer is full, drops nothing, and releases it as confirmations come', async () => {
    cluster = await RoutingCluster.start(3, { maxUnacked: { stanzas: 20 } });
    const a = cluster.session('n2', 'a');
    const b = cluster.session('n3', 'b');
    await pump(cluster, 'n2', a, B, 1, 30);
    expect(a.held).toBe(true);
    expect(cluster.router('n2').unconfirmed()).toMatchObject({ stanzas: 30, heldSenders: 1 });
    cluster.setLeader('n1');
    await cluster.until(() => b.numbers().length >= 30 && !a.held, describeReceived(b));
    expect(b.numbers()).toEqual(range(1, 30));
  });
});

describe('a call bridge that goes away', () => {
  it('has its stanzas held by the leader and delivered when it reconnects to another member', async () => {
    cluster = await RoutingCluster.start(3);
    const a = cluster.session('n2', 'a');
    const b = cluster.session('n3', 'b');
    cluster.setLeader('n1');
    await pump(cluster, 'n2', a, B, 1, 20);
    await cluster.until(() => b.numbers().length === 20, describeReceived(b));
    cluster.router('n3').detach(b);
    await pump(cluster, 'n2', a, B, 21, 40);
    await cluster.until(() => cluster.router('n1').sessions().length === 1, () => 'the leader still lists b');
    const again = cluster.session('n1', 'b');
    await cluster.until(() => again.numbers().length >= 20, describeReceived(again));
    await cluster.settled();
    expect(b.numbers()).toEqual(range(1, 20));
    expect(again.numbers()).toEqual(range(21, 40));
    expect(a.errors()).toEqual([]);
  });

  it('whose member dies is delivered to, in order, at the member it reconnects to', async () => {
    cluster = await RoutingCluster.start(3);
    const a = cluster.session('n2', 'a');
    const b = cluster.session('n3', 'b');
    cluster.setLeader('n1');
    let again: WatchedRoute | undefined;
    let inFlight = 0;
    await pump(cluster, 'n2', a, B, 1, 300, 10, async (n) => {
      if (n !== 100) return;
      inFlight = cluster.router('n2').unconfirmed().stanzas;
      await cluster.crash('n3');
      again = cluster.session('n2', 'b');
    });
    await cluster.until(() => again!.numbers().at(-1) === 300, describeReceived(again!));
    await cluster.settled();
    expect(inFlight).toBeGreaterThan(0);
    // What the dead member wrote to its socket may come again: the call bridge may not have read it.
    const first = b.numbers();
    const later = again!.numbers();
    expect(first).toEqual(range(1, first.length));
    expect(later).toEqual(range(later[0]!, 300));
    expect(later[0]!).toBeLessThanOrEqual(first.length + 1);
    expect(a.errors()).toEqual([]);
  });

  it('is bounced with service-unavailable when it does not come back within the grace period', async () => {
    cluster = await RoutingCluster.start(3, { graceMs: 50 });
    const a = cluster.session('n2', 'a');
    const b = cluster.session('n3', 'b');
    cluster.setLeader('n1');
    await cluster.until(() => cluster.router('n1').sessions().length === 2, () => 'the leader has not got both reports');
    cluster.router('n3').detach(b);
    await cluster.until(() => cluster.router('n1').sessions().length === 1, () => 'the leader still lists b');
    await pump(cluster, 'n2', a, B, 1, 3);
    await cluster.until(() => a.errors().length === 3, describeReceived(a));
    expect(a.errors()).toEqual(['service-unavailable', 'service-unavailable', 'service-unavailable']);
    expect(a.last().attrs).toMatchObject({ type: 'error', from: B, to: A, id: 'm3' });
    expect(cluster.router('n1').counters.bounced).toBe(3);
    await cluster.settled();
  });

  it('bounces at once a stanza for a call bridge never seen, once every member has reported', async () => {
    cluster = await RoutingCluster.start(3);
    const a = cluster.session('n2', 'a');
    cluster.session('n3', 'b');
    cluster.session('n1', 'c');
    cluster.setLeader('n1');
    await cluster.until(() => cluster.router('n1').sessions().length === 3, () => 'the leader has not got every report');
    cluster.router('n2').route(message(A, `nobody.${DOMAIN}`, 1), a);
    // The default grace is 10 s: a bounce within the wait's 5 s is one given at once.
    await cluster.until(() => a.errors().length === 1, describeReceived(a), 5_000);
    expect(a.errors()).toEqual(['service-unavailable']);
  });
});

describe('the cluster-wide session table', () => {
  it('ends the older session with conflict when the same call bridge connects to a second member', async () => {
    cluster = await RoutingCluster.start(3);
    const a = cluster.session('n2', 'a');
    const b = cluster.session('n3', 'b');
    cluster.setLeader('n1');
    await pump(cluster, 'n2', a, B, 1, 10);
    await cluster.until(() => b.numbers().length === 10, describeReceived(b));
    const newer = cluster.session('n1', 'b');
    await cluster.until(() => b.replacedTimes === 1, () => 'the old session was not told');
    await pump(cluster, 'n2', a, B, 11, 20);
    await cluster.until(() => newer.numbers().length === 10, describeReceived(newer));
    await cluster.settled();
    expect(b.numbers()).toEqual(range(1, 10));
    expect(newer.numbers()).toEqual(range(11, 20));
    expect(cluster.router('n1').sessions().find((s) => s.address === B)?.node).toBe('n1');
  });

  it("lists every member's sessions, with the member each is on, on every member", async () => {
    cluster = await RoutingCluster.start(3);
    cluster.session('n1', 'c');
    cluster.session('n2', 'a');
    cluster.setLeader('n1');
    cluster.session('n3', 'b');
    const expected = [
      [A, 'n2'],
      [B, 'n3'],
      [`c.${DOMAIN}`, 'n1'],
    ];
    const view = (id: string) => cluster.router(id).sessions().map((s) => [s.address, s.node]);
    await cluster.until(
      () => ['n1', 'n2', 'n3'].every((id) => JSON.stringify(view(id)) === JSON.stringify(expected)),
      () => ['n1', 'n2', 'n3'].map((id) => `${id}: ${JSON.stringify(view(id))}`).join('; '),
    );
    expect(cluster.router('n3').sessions()[0]!.since).toBeInstanceOf(Date);
  });

  it('logs and drops a malformed routing message, and keeps routing', async () => {
    cluster = await RoutingCluster.start(3);
    const a = cluster.session('n2', 'a');
    const b = cluster.session('n3', 'b');
    cluster.setLeader('n1');
    cluster.member('n2').transport.send('n1', 'stanza', new TextEncoder().encode('{"t":"fwd","seq":-1}'));
    cluster.member('n2').transport.send('n1', 'stanza', encodeRoutingMessage({ t: 'hello' }).subarray(0, 3));
    cluster.router('n2').route(message(A, B, 1), a);
    await cluster.until(() => b.numbers().length === 1, describeReceived(b));
  });
});
