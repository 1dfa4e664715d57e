import { expect } from 'vitest';
import type { CallBridge } from '../../src/bridge/call-bridge.js';
import { nextEvent } from './bridges.js';

/**
 * One message from `a` to `b` and the answer back, over whatever federates
 * them: both directions of s2s (each server opens its own outgoing stream,
 * RFC 6120 §2.5), so both sides' dialback or SASL EXTERNAL is exercised.
 */
export async function exchangeBothWays(a: CallBridge, b: CallBridge, timeoutMs = 20_000): Promise<void> {
  const there = nextEvent(b, 'message', timeoutMs);
  await a.sendMessage(b.address, `hello ${b.address}`, 'there');
  expect(await there).toMatchObject({ from: a.address, to: b.address, body: `hello ${b.address}`, id: 'there' });
  const back = nextEvent(a, 'message', timeoutMs);
  await b.sendMessage(a.address, `and back to ${a.address}`, 'back');
  expect(await back).toMatchObject({ from: b.address, to: a.address, body: `and back to ${a.address}`, id: 'back' });
}

/** Adds each peer's log tail to a failure: they say why a stream did not come up. */
export async function withPeerLogs<T>(peers: Array<{ domain: string; log(): string }>, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    const e = err as Error;
    for (const p of peers) e.message += `\n--- ${p.domain} log (tail) ---\n${p.log().slice(-8000)}`;
    throw e;
  }
}
