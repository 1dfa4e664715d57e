import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SSH, SSHPASS, requireBinaries, sshExec, startTestNode, type RunResult, type TestNode } from './harness.js';

let node: TestNode;

beforeAll(async () => {
  requireBinaries(SSH, SSHPASS);
  // The default policy, as a node runs it: 5 failures a minute lock an address for 5 minutes.
  node = await startTestNode();
});
afterAll(async () => node?.stop());

const deniedByPassword = (r: RunResult) => /Permission denied/.test(r.stderr);

describe('password guessing', () => {
  it('refuses and slows 50 wrong passwords from one address; a correct login from another address still works', async () => {
    const attempts: RunResult[] = [];
    for (let i = 0; i < 50; i++) attempts.push(await sshExec(node, 'pki list', { password: `guess-${i}` }));

    expect(attempts.every((r) => r.code !== 0)).toBe(true);
    const checked = attempts.filter(deniedByPassword);
    const refused = attempts.filter((r) => !deniedByPassword(r));
    // Only the first few guesses ever reach the password check ...
    expect(checked.length).toBe(5);
    expect(attempts.slice(0, 5).every(deniedByPassword)).toBe(true);
    // ... each answered later than the one before (0.5 s, 1 s, 1.5 s ...) ...
    attempts.slice(0, 5).forEach((r, i) => expect(r.ms).toBeGreaterThanOrEqual(500 * (i + 1) - 50));
    // ... and the rest are turned away before the key exchange.
    expect(refused).toHaveLength(45);
    for (const r of refused) expect(r.stderr).toMatch(/Connection (closed|reset)|kex_exchange_identification/);

    // Locked means locked: even the right password is refused from that address.
    const right = await sshExec(node, 'pki list');
    expect(right.code).not.toBe(0);
    expect(deniedByPassword(right)).toBe(false);

    // Another address is not affected.
    const elsewhere = await sshExec(node, 'pki list', { bind: '127.0.0.5' });
    expect(elsewhere).toMatchObject({ code: 0, stdout: 'User supplied certificates and keys:\n' });

    const events = node.logs.map((l) => JSON.parse(l));
    expect(events.filter((e) => e.event === 'login-failed')).toHaveLength(5);
    expect(events.filter((e) => e.event === 'address-locked')).toEqual([expect.objectContaining({ address: '127.0.0.1' })]);
    expect(events.filter((e) => e.event === 'connection-refused').length).toBeGreaterThanOrEqual(1);
    expect(events.find((e) => e.event === 'login' && e.address === '127.0.0.5')).toBeDefined();
    expect(node.logs.join('\n')).not.toMatch(/guess-\d/);
  });
});

describe('parallel guessing', () => {
  it('checks one password per address at a time, so parallel connections are slowed like serial ones', async () => {
    const burst = await startTestNode({ loginPolicy: { failureDelayMs: 200 } });
    try {
      const started = Date.now();
      const attempts = await Promise.all(Array.from({ length: 10 }, (_, i) => sshExec(burst, 'pki list', { password: `parallel-${i}`, bind: '127.0.0.9' })));
      expect(attempts.every((r) => r.code !== 0)).toBe(true);
      const events = burst.logs.map((l) => JSON.parse(l));
      expect(events.filter((e) => e.event === 'login-failed')).toHaveLength(5);
      expect(events.filter((e) => e.event === 'login-refused' || e.event === 'connection-refused').length).toBeGreaterThanOrEqual(1);
      // Five checks in a row with 0.2 + 0.4 + 0.6 + 0.8 + 1.0 s of delay: at least 3 s, not 0.2 s.
      expect(Date.now() - started).toBeGreaterThanOrEqual(2_900);
    } finally {
      await burst.stop();
    }
  });
});
