import { afterEach, describe, expect, it } from 'vitest';
import type { RemoteRoutes, Route, Stanza } from '../../../src/router/router.js';
import { MemoryRoute } from '../../router/memory-route.js';
import { A, message, RoutingCluster, turn } from './routing-cluster.js';

/**
 * A stanza for a remote domain is confirmed to its origin member only once
 * the leader's remote route has settled it (written to the peer's stream,
 * or bounced): a leader that dies while it only queued the stanza, its
 * stream still being set up, loses nothing; the origin gives it to the next
 * leader (Route.deliverSettled, cluster/routing/route-writer.ts).
 */

/** A remote domain's route that settles what it is given only when told to (its stream is being set up until then). */
class SettlingRoute extends MemoryRoute {
  private readonly waiting: Array<() => void> = [];
  settleAtOnce = false;

  deliverSettled(raw: string, settled: () => void): boolean {
    this.received.push(raw);
    if (this.settleAtOnce) settled();
    else this.waiting.push(settled);
    return true;
  }

  settleAll(): void {
    for (const s of this.waiting.splice(0)) s();
  }
}

/** What every member's router asks for remote domains: the route of whichever node leads in the test. */
class SwitchedRemote implements RemoteRoutes {
  current = new SettlingRoute('other.test');
  routeFor(_stanza: Stanza): Route | undefined {
    return this.current;
  }
}

/** Enough turns of the in-memory links for a confirmation, were one sent, to reach the origin. */
async function linksSettle(): Promise<void> {
  for (let i = 0; i < 20; i++) await turn();
}

const ids = (route: MemoryRoute) => route.received.map((r) => /id='(m\d+)'/.exec(r)![1]);

let cluster: RoutingCluster;

/** Leader n1; call bridge a on n2 sends m1..m5 to other.test; the leader's remote route holds all five, unsettled. */
async function fiveToTheLeadersRemote(): Promise<{ remote: SwitchedRemote; a: ReturnType<RoutingCluster['session']> }> {
  const remote = new SwitchedRemote();
  cluster = await RoutingCluster.start(3, { remote });
  const a = cluster.session('n2', 'a');
  cluster.setLeader('n1');
  await cluster.until(() => cluster.router('n1').sessions().length === 1, () => 'the leader has not got the report');
  for (let n = 1; n <= 5; n++) cluster.router('n2').route(message(A, 'user@other.test', n), a);
  await cluster.until(() => remote.current.received.length === 5, () => `the remote route got ${remote.current.received.length}`);
  return { remote, a };
}
afterEach(async () => {
  await cluster?.close();
});

describe('a remote domain through the leader', () => {
  it('is confirmed to the origin member only once the remote route settles it', async () => {
    const { remote } = await fiveToTheLeadersRemote();
    await linksSettle();
    expect(cluster.router('n2').unconfirmed().stanzas).toBe(5);
    remote.current.settleAll();
    await cluster.settled();
  });

  it('loses nothing the leader only queued when it dies: the next leader gets it from the origin', async () => {
    const { remote, a } = await fiveToTheLeadersRemote();
    await linksSettle();
    const dying = remote.current;
    // The leader dies with all five still waiting for its stream: they die with it.
    await cluster.crash('n1');
    remote.current = new SettlingRoute('other.test');
    remote.current.settleAtOnce = true;
    cluster.setLeader('n3');
    await cluster.until(() => remote.current.received.length >= 5, () => `the new leader's remote route got ${remote.current.received.length}`);
    expect(ids(remote.current)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    expect(ids(dying)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    expect(a.errors()).toEqual([]);
    await cluster.settled();
  });
});
