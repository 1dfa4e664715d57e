import { afterEach, describe, expect, it } from 'vitest';
import { MemoryCluster } from '../../helpers/memory-cluster.js';

/**
 * `xmpp callbridge list` on a member that has lost its quorum answers from
 * what it knows and says so: a warning line in text, `stale: true` on every
 * entry in JSON (ours: the reference has no JSON form of the warning).
 */
describe('xmpp callbridge list without a quorum', { timeout: 30_000 }, () => {
  let cluster: MemoryCluster;
  afterEach(async () => cluster.close());

  it('marks the list stale, in text and in JSON, and unmarks it once the quorum is back', async () => {
    cluster = new MemoryCluster();
    const cb1 = await cluster.node('cb1', '127.0.3.11');
    for (const line of ['xmpp domain example.test', 'xmpp cluster initialize']) expect({ line, out: await cb1.run(line) }).toEqual({ line, out: '' });
    expect(await cb1.run('xmpp callbridge add cba')).toMatch(/^Successfully added callbridge\.\nSecret: \S+\n$/);
    const cb2 = await cluster.node('cb2', '127.0.3.12');
    await cb2.run('xmpp domain example.test');
    expect(await cb2.run('xmpp cluster join 127.0.3.11')).toBe('Joined cluster: 2 peers, leader 127.0.3.11:5222\n');

    expect(JSON.parse(await cb2.run('xmpp callbridge list --json'))).toEqual([{ callbridge: 'cba', domain: 'example.test', secret: expect.any(String) }]);
    cluster.network.isolate(cb2.node.identity.id);
    const text = await cb2.run('xmpp callbridge list');
    expect(text).toMatch(/^Callbridge : cba$/m);
    expect(text.trimEnd().split('\n').at(-1)).toBe('Warning: the cluster has no quorum; this list may be stale');
    expect(JSON.parse(await cb2.run('xmpp callbridge list --json'))).toEqual([{ callbridge: 'cba', domain: 'example.test', secret: expect.any(String), stale: true }]);

    cluster.network.healAll();
    // The first read after healing may still find no leader; a later one reads through it.
    let fresh: unknown;
    for (let attempt = 0; attempt < 20 && (fresh === undefined || JSON.stringify(fresh).includes('stale')); attempt++) fresh = JSON.parse(await cb2.run('xmpp callbridge list --json'));
    expect(fresh).toEqual([{ callbridge: 'cba', domain: 'example.test', secret: expect.any(String) }]);
  });
});
