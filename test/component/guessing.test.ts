import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handshakeDigest } from '../../src/component/handshake.js';
import { connectBridge, nextEvent } from '../helpers/bridges.js';
import { COMPONENT_HEADER, RawClient, streamErrorCondition, streamIdOf } from '../helpers/raw-client.js';
import { startTestNode, type TestNode } from '../helpers/test-node.js';

/**
 * The auth throttle against a guesser who opens connection after connection
 * from one address: once the address has failed, each new handshake waits
 * out the throttle before it is checked, and a guess closed while it waits
 * (the pre-auth cap closes the oldest) is never checked at all. So evicting
 * one's own waiting guesses buys no extra guesses.
 */

const SERVER_HEADER = /<stream:stream[^>]*>/;
const PER_ADDRESS = 4;
let t: TestNode;

beforeAll(async () => {
  t = await startTestNode({ authThrottle: { baseDelayMs: 1000, maxDelayMs: 1500 }, preauthLimits: { perAddress: PER_ADDRESS } });
});
afterAll(async () => t?.close());

async function openFrom(localAddress: string, name = 'cb1'): Promise<RawClient> {
  const c = await RawClient.connect(t.ports[0], '127.0.0.1', localAddress);
  c.send(COMPONENT_HEADER(`${name}.example.test`));
  await c.waitFor(SERVER_HEADER);
  return c;
}

const failuresFrom = (address: string) => t.log.find('component_auth_failure').filter((l) => l.peer === address).length;

describe('guessing a secret through many connections', () => {
  it('checks no guess that the pre-auth cap closed while it waited for the throttle', async () => {
    const address = '127.0.5.1';
    const first = await openFrom(address);
    first.send(`<handshake>${handshakeDigest(streamIdOf(first.received), 'wrong-guess-0')}</handshake>`);
    expect(streamErrorCondition(await first.untilClosed(10_000))).toBe('not-authorized');
    expect(failuresFrom(address)).toBe(1);

    // Ten more guesses at once: each waits 1 s before it is checked, so the cap closes the oldest six unchecked.
    const guesses: RawClient[] = [];
    for (let i = 1; i <= 10; i++) {
      const g = await openFrom(address);
      g.send(`<handshake>${handshakeDigest(streamIdOf(g.received), `wrong-guess-${i}`)}</handshake>`);
      guesses.push(g);
    }
    const conditions = await Promise.all(guesses.map(async (g) => streamErrorCondition(await g.untilClosed(15_000))));
    expect(conditions).toEqual([...Array(10 - PER_ADDRESS).fill('resource-constraint'), ...Array(PER_ADDRESS).fill('not-authorized')]);
    expect(failuresFrom(address)).toBe(1 + PER_ADDRESS);
  });

  it('routes the stanzas sent behind a handshake that waited for the throttle, once it succeeds', async () => {
    const address = '127.0.5.2';
    const wrong = await openFrom(address, 'cb2');
    wrong.send(`<handshake>${handshakeDigest(streamIdOf(wrong.received), 'not-the-secret')}</handshake>`);
    expect(streamErrorCondition(await wrong.untilClosed(10_000))).toBe('not-authorized');

    const cb1 = await connectBridge(t, 'cb1');
    const received = nextEvent(cb1, 'message', 10_000);
    const right = await openFrom(address, 'cb2');
    // The handshake and a message in one write: the message must not be lost while the handshake waits.
    right.send(
      `<handshake>${handshakeDigest(streamIdOf(right.received), t.secrets.cb2!)}</handshake>` +
        `<message from='cb2.example.test' to='cb1.example.test' id='early'><body>sent with the handshake</body></message>`,
    );
    await right.waitFor('<handshake/>', 10_000);
    expect((await received).body).toBe('sent with the handshake');
    right.destroy();
    await cb1.close();
  });
});
