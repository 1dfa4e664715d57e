import type { Element } from '@xmpp/xml';
import { beforeEach, describe, expect, it } from 'vitest';
import type { RemoteRoutes, Route, Router, Stanza } from '../../src/router/router.js';
import { NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING } from '../../src/xmpp/namespaces.js';
import { MemoryRoute, stanza } from './memory-route.js';

/**
 * What every Router does, whichever implementation: one node's LocalRouter,
 * a cluster member's forwarding router. Each runs this suite
 * (`routerBehaviour('LocalRouter', factory)`), against in-memory routes.
 */

export interface RouterBehaviourEnvironment {
  /** The XMPP domain served: example.test. */
  domain: () => string;
  /** The federation hook; the suite decides what it answers. */
  remote: RemoteRoutes;
}

export type RouterFactory = (env: RouterBehaviourEnvironment) => Router;

const DOMAIN = 'example.test';

/** The stanza error condition of a reply, or undefined. */
function errorCondition(el: Element): string | undefined {
  return el.getChild('error')?.getChildElements()[0]?.name;
}

export function routerBehaviour(name: string, factory: RouterFactory): void {
  describe(`${name} (Router behaviour)`, () => {
    let router: Router;
    let cb1: MemoryRoute;
    let cb2: MemoryRoute;
    /** What the remote-routes hook was asked, and the routes it knows. */
    let asked: Stanza[];
    let remotes: Map<string, Route>;

    beforeEach(() => {
      asked = [];
      remotes = new Map();
      router = factory({
        domain: () => DOMAIN,
        remote: {
          routeFor: (s) => {
            asked.push(s);
            return remotes.get(s.toDomain);
          },
        },
      });
      cb1 = new MemoryRoute('cb1.example.test');
      cb2 = new MemoryRoute('cb2.example.test');
      router.attach(cb1);
      router.attach(cb2);
    });

    const message = (to: string, extra = '') => stanza(`<message from='cb1.example.test' to='${to}' id='m1'${extra}><body>hi</body></message>`);

    describe('delivery', () => {
      it('hands the original text to the route attached for the domain of to', () => {
        const s = message('conf@cb2.EXAMPLE.test/r', ` type='groupchat'`);
        router.route(s, cb1);
        expect(cb2.received).toEqual([s.raw]);
        expect(cb1.received).toEqual([]);
        expect(router.counters.routed).toBe(1);
      });

      it('reaches <name>.<domain> by the bare call bridge name, as CMS addresses it', () => {
        router.route(message('cb2'), cb1);
        expect(cb2.received).toHaveLength(1);
      });

      it('replaces the route of an address by a new one, and tells the old one', () => {
        const newer = new MemoryRoute('cb2.example.test');
        router.attach(newer);
        expect(cb2.replacedTimes).toBe(1);
        router.route(message('cb2.example.test'), cb1);
        expect(newer.received).toHaveLength(1);
        expect(cb2.received).toEqual([]);
      });

      it('does not replace a route by itself', () => {
        router.attach(cb2);
        expect(cb2.replacedTimes).toBe(0);
      });

      it('detaches a route only while it is the one registered for its address', () => {
        const newer = new MemoryRoute('cb2.example.test');
        router.attach(newer);
        router.detach(cb2);
        router.route(message('cb2.example.test'), cb1);
        expect(newer.received).toHaveLength(1);
        router.detach(newer);
        router.route(message('cb2.example.test'), cb1);
        expect(errorCondition(cb1.last())).toBe('service-unavailable');
      });
    });

    describe("the server's own domain", () => {
      it('answers an XEP-0199 ping with a result to the sender', () => {
        router.route(stanza(`<iq type='get' id='p1' from='cb1.example.test' to='example.test'><ping xmlns='${NS_PING}'/></iq>`), cb1);
        expect(cb1.last().attrs).toMatchObject({ type: 'result', id: 'p1', from: 'example.test', to: 'cb1.example.test' });
        expect(router.counters.answered).toBe(1);
        expect(asked).toEqual([]);
      });

      it('answers XEP-0030 disco#info with the server identity, and disco#items with the attached routes', () => {
        router.route(stanza(`<iq type='get' id='d1' from='cb1.example.test' to='example.test'><query xmlns='${NS_DISCO_INFO}'/></iq>`), cb1);
        const info = cb1.last().getChild('query')!;
        expect(info.getChild('identity')?.attrs).toMatchObject({ category: 'server' });
        expect(info.getChildren('feature').map((f) => f.attrs.var)).toContain(NS_PING);
        router.route(stanza(`<iq type='get' id='d2' from='cb1.example.test' to='example.test'><query xmlns='${NS_DISCO_ITEMS}'/></iq>`), cb1);
        expect(cb1.last().getChild('query')!.getChildren('item').map((i) => i.attrs.jid)).toEqual(['cb1.example.test', 'cb2.example.test']);
      });

      it('answers any other request with service-unavailable, and takes results and errors without reply', () => {
        router.route(stanza(`<iq type='get' id='v1' from='cb1.example.test' to='example.test'><query xmlns='jabber:iq:version'/></iq>`), cb1);
        expect(cb1.last().attrs).toMatchObject({ type: 'error', id: 'v1' });
        expect(errorCondition(cb1.last())).toBe('service-unavailable');
        router.route(stanza(`<iq type='result' id='r1' from='cb1.example.test' to='example.test'/>`), cb1);
        router.route(message('example.test', ` type='error'`), cb1);
        expect(cb1.received).toHaveLength(1);
      });
    });

    describe('undeliverable stanzas', () => {
      it('bounces with service-unavailable a stanza for a component of our domain that is not connected', () => {
        router.route(message('room@cb9.example.test'), cb1);
        expect(cb1.last().attrs).toMatchObject({ type: 'error', from: 'room@cb9.example.test', to: 'cb1.example.test', id: 'm1' });
        expect(errorCondition(cb1.last())).toBe('service-unavailable');
        expect(router.counters.bounced).toBe(1);
        expect(asked).toEqual([]);
      });

      it('bounces with remote-server-not-found a stanza for another domain that no remote route takes', () => {
        router.route(message('someone@other.org'), cb1);
        expect(asked.map((s) => s.toDomain)).toEqual(['other.org']);
        expect(errorCondition(cb1.last())).toBe('remote-server-not-found');
        expect(router.counters.bounced).toBe(1);
      });

      it('never answers an error or an iq result with an error (RFC 6120 §8.3.1): they are dropped and counted', () => {
        router.route(message('x@cb9.example.test', ` type='error'`), cb1);
        router.route(stanza(`<iq type='result' id='r1' from='cb1.example.test' to='cb9.example.test'/>`), cb1);
        router.route(message('x@other.org', ` type='error'`), cb1);
        expect(cb1.received).toEqual([]);
        expect(router.counters).toMatchObject({ dropped: 3, bounced: 0 });
      });
    });

    describe('remote routes (federation)', () => {
      it('hands a stanza for another domain to the route the hook gives, errors and results too', () => {
        const other = new MemoryRoute('other.org');
        remotes.set('other.org', other);
        const s = message('someone@other.org/desk');
        const result = stanza(`<iq type='result' id='r1' from='cb1.example.test' to='other.org'/>`);
        router.route(s, cb1);
        router.route(result, cb1);
        expect(other.received).toEqual([s.raw, result.raw]);
        expect(cb1.received).toEqual([]);
        expect(router.counters).toMatchObject({ routed: 2, bounced: 0 });
      });

      it('holds the sender while the remote route is over its mark, as any route', () => {
        const other = new MemoryRoute('other.org');
        other.full = true;
        remotes.set('other.org', other);
        router.route(message('someone@other.org'), cb1);
        expect(cb1.held).toBe(true);
        other.drain();
        expect(cb1.held).toBe(false);
      });
    });

    describe('back-pressure', () => {
      it('holds the sender while its target is over its mark, and releases it when the target drains', () => {
        cb2.full = true;
        router.route(message('cb2.example.test'), cb1);
        router.route(message('cb2.example.test'), cb1);
        expect(cb2.received).toHaveLength(2);
        expect(cb1.held).toBe(true);
        // Held once, however many stanzas found the target full.
        expect(cb2.drainWaiters).toBe(1);
        cb2.drain();
        expect(cb1.held).toBe(false);
      });

      it('holds a sender for each full target; it is read again only when all have drained', () => {
        const cb3 = new MemoryRoute('cb3.example.test');
        router.attach(cb3);
        cb2.full = true;
        cb3.full = true;
        router.route(message('cb2.example.test'), cb1);
        router.route(message('cb3.example.test'), cb1);
        cb2.drain();
        expect(cb1.held).toBe(true);
        cb3.drain();
        expect(cb1.held).toBe(false);
      });

      it('releases every sender held for a target when it drains, and holds again if it fills again', () => {
        const cb3 = new MemoryRoute('cb3.example.test');
        router.attach(cb3);
        cb3.full = true;
        router.route(message('cb3.example.test'), cb1);
        router.route(stanza(`<message from='cb2.example.test' to='cb3.example.test'/>`), cb2);
        expect([cb1.held, cb2.held]).toEqual([true, true]);
        cb3.drain();
        expect([cb1.held, cb2.held]).toEqual([false, false]);
        cb3.full = true;
        router.route(message('cb3.example.test'), cb1);
        expect(cb1.held).toBe(true);
        expect(cb3.drainWaiters).toBe(1);
      });

      it('never holds a route for its own queue: a route over its mark holds itself', () => {
        cb1.full = true;
        router.route(stanza(`<iq type='get' id='p1' from='cb1.example.test' to='example.test'><ping xmlns='${NS_PING}'/></iq>`), cb1);
        router.route(message('nobody@cb9.example.test'), cb1);
        router.route(message('cb1.example.test'), cb1);
        expect(cb1.received).toHaveLength(3);
        expect(cb1.held).toBe(false);
        expect(cb1.drainWaiters).toBe(0);
      });
    });

    it('counts what it routed, answered, bounced and dropped', () => {
      router.route(message('cb2.example.test'), cb1);
      router.route(stanza(`<iq type='get' id='p1' from='cb1.example.test' to='example.test'><ping xmlns='${NS_PING}'/></iq>`), cb1);
      router.route(message('room@cb9.example.test'), cb1);
      router.route(message('room@cb9.example.test', ` type='error'`), cb1);
      expect(router.counters).toEqual({ routed: 1, answered: 1, bounced: 1, dropped: 1 });
    });
  });
}
