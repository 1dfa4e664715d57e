import { pino } from 'pino';
import { expect, it } from 'vitest';
import { ClusterRouter } from '../../../cluster/routing/cluster-router.js';
import { MemoryNetwork } from '../../../cluster/transport/memory-transport.js';
import { MemoryRoute, stanza } from '../../router/memory-route.js';
import { routerBehaviour } from '../../router/router-behaviour.js';

const log = pino({ level: 'silent' });

/** A member alone in its cluster, its own leader: it must be LocalRouter, synchronously. */
function oneMember(env: { domain: () => string; remote?: ConstructorParameters<typeof ClusterRouter>[0]['remote'] }): ClusterRouter {
  const transport = new MemoryNetwork().transport({ id: 'n1', name: 'cb1', endpoint: { host: '127.0.0.1', port: 5999 } });
  const router = new ClusterRouter({ self: 'n1', domain: env.domain, log, transport, remote: env.remote });
  router.setMembers(['n1']);
  router.setLeader('n1');
  return router;
}

routerBehaviour('ClusterRouter (one member)', (env) => oneMember(env));

it('ClusterRouter (one member) lists its own sessions with itself as their node, and keeps nothing unconfirmed', () => {
  const router = oneMember({ domain: () => 'example.test' });
  const cb1 = new MemoryRoute('cb1.example.test');
  const cb2 = new MemoryRoute('cb2.example.test');
  router.attach(cb1);
  router.attach(cb2);
  router.route(stanza(`<message from='cb1.example.test' to='cb2.example.test' id='m1'/>`), cb1);
  expect(router.sessions().map((s) => [s.address, s.node])).toEqual([
    ['cb1.example.test', 'n1'],
    ['cb2.example.test', 'n1'],
  ]);
  expect(router.unconfirmed()).toEqual({ stanzas: 0, bytes: 0, heldSenders: 0 });
  router.close();
});

it('ClusterRouter takes the peer address and connection time of a session from the route when it can tell them', () => {
  const router = oneMember({ domain: () => 'example.test' });
  const since = new Date('2025-01-02T03:04:05Z');
  const route = Object.assign(new MemoryRoute('cb1.example.test'), { info: () => ({ peer: '10.0.0.7:40000', since }) });
  router.attach(route);
  expect(router.sessions()).toEqual([{ address: 'cb1.example.test', node: 'n1', peer: '10.0.0.7:40000', since }]);
  router.close();
});
