import { describe, expect, it } from 'vitest';
import { flush, stanza as stanzaOf } from '../helpers/memory-s2s.js';
import { federation, ids, message } from './federation-service-harness.js';

/**
 * Route.deliverSettled, the cluster leader's way in (cluster/routing's
 * RouteWriter): a stanza is settled, and its origin member confirmed, only
 * once it is written to an authenticated stream or bounced, never while it
 * merely waits for the stream. A leader that dies while a stream is set up
 * thus loses nothing the origin accepted: the origin still holds it.
 */

const FROM = 'cb1.example.test';

function offer(f: ReturnType<typeof federation>, raw: string, settled: string[]): boolean {
  const s = stanzaOf(raw);
  const route = f.service.routeFor(s)!;
  return route.deliverSettled!(s.raw, () => settled.push(s.attrs.id!));
}

describe('deliverSettled', () => {
  it('settles a queued stanza only when the stream is ready and it is written, in order', async () => {
    const f = federation();
    const peer = f.net.peer('other.test');
    peer.plan = { result: 'manual' };
    const settled: string[] = [];
    offer(f, message(FROM, 'user@other.test', 'm1'), settled);
    offer(f, message(FROM, 'user@other.test', 'm2'), settled);
    await flush();
    expect(settled).toEqual([]);
    f.net.manual[0]!.succeed();
    await flush();
    expect(ids(peer.last!.stanzas)).toEqual(['m1', 'm2']);
    expect(settled).toEqual(['m1', 'm2']);
    offer(f, message(FROM, 'user@other.test', 'm3'), settled);
    expect(settled).toEqual(['m1', 'm2', 'm3']);
  });

  it('settles a stanza when it bounces because no stream could be set up', async () => {
    const f = federation();
    f.net.peer('other.test').plan = { result: 'fail', outcomes: ['no-answer'], delayMs: 500 };
    const settled: string[] = [];
    offer(f, message(FROM, 'user@other.test', 'm1'), settled);
    expect(settled).toEqual([]);
    f.net.clock.advance(500);
    await flush();
    expect(settled).toEqual(['m1']);
    expect(f.bridge.conditions()).toEqual(['remote-server-not-found']);
  });

  it('settles the oldest when it bounces past the queue bound', async () => {
    const f = federation({ queueLimits: { maxStanzas: 1 } });
    f.net.peer('other.test').plan = { result: 'manual' };
    const settled: string[] = [];
    offer(f, message(FROM, 'user@other.test', 'm1'), settled);
    offer(f, message(FROM, 'user@other.test', 'm2'), settled);
    expect(settled).toEqual(['m1']);
    expect(f.bridge.conditions()).toEqual(['resource-constraint']);
  });
});
