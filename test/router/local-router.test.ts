import { pino } from 'pino';
import { expect, it } from 'vitest';
import { LocalRouter } from '../../src/router/local-router.js';
import { MemoryRoute, stanza } from './memory-route.js';
import { routerBehaviour } from './router-behaviour.js';

const log = pino({ level: 'silent' });

routerBehaviour('LocalRouter', (env) => new LocalRouter({ ...env, log }));

it('LocalRouter without remote routes bounces other domains with remote-server-not-found', () => {
  const router = new LocalRouter({ domain: () => 'example.test', log });
  const cb1 = new MemoryRoute('cb1.example.test');
  router.attach(cb1);
  router.route(stanza(`<message from='cb1.example.test' to='a@other.org' id='m1'/>`), cb1);
  expect(cb1.last().getChild('error')?.getChild('remote-server-not-found')).toBeDefined();
});
