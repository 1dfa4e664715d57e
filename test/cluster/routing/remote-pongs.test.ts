import { afterEach, describe, expect, it } from 'vitest';
import type { RemoteRoutes, Route, Stanza } from '../../../src/router/router.js';
import { stanza } from '../../helpers/memory-s2s.js';
import { MemoryRoute } from '../../router/memory-route.js';
import { A, RoutingCluster } from './routing-cluster.js';

/**
 * The pong for the leader's federation ping comes back on the remote
 * server's own stream (RFC 6120 §2.4), which DNS may have sent to another
 * member; that member forwards it like any stanza, and the leader's
 * federation takes it (RemoteRoutes.claims) instead of routing it to the
 * call bridge it is addressed to.
 */

class PingingRemote implements RemoteRoutes {
  readonly claimed: string[] = [];
  routeFor(_stanza: Stanza): Route | undefined {
    return new MemoryRoute('other.test');
  }
  claims(s: Stanza): boolean {
    if (!s.attrs.id?.startsWith('leader-ping-')) return false;
    this.claimed.push(s.attrs.id);
    return true;
  }
}

let cluster: RoutingCluster;
afterEach(async () => {
  await cluster?.close();
});

describe('a federation pong that reached a follower', () => {
  it('is taken by the leader, not delivered to the call bridge it names; other results are', async () => {
    // Every member's router asks the same federation; only the leader's routing asks it anything.
    const remote = new PingingRemote();
    cluster = await RoutingCluster.start(3, { remote });
    const a = cluster.session('n3', 'a');
    cluster.setLeader('n1');
    await cluster.until(() => cluster.router('n1').sessions().length === 1, () => 'the leader has not got the report');
    // The remote server's stream to n2 (its incoming) carries the pong and another answer for the bridge.
    const incoming = new MemoryRoute('other.test');
    cluster.router('n2').route(stanza(`<iq from='other.test' to='${A}' id='leader-ping-7' type='result'/>`), incoming);
    cluster.router('n2').route(stanza(`<iq from='other.test' to='${A}' id='q1' type='result'/>`), incoming);
    await cluster.until(() => a.received.length >= 1, () => `a got ${a.received.length}`);
    await cluster.settled();
    expect(remote.claimed).toEqual(['leader-ping-7']);
    expect(a.received.map((r) => /id='([^']+)'/.exec(r)![1])).toEqual(['q1']);
  });
});
