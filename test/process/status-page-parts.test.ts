import { describe, expect, it } from 'vitest';
import { isLoopbackAddress } from '../../src/process/status-page/http-form.js';
import { LoginSessions } from '../../src/process/status-page/login-sessions.js';
import { StanzaRate } from '../../src/process/status-page/stanza-rate.js';
import { escapeHtml, loginPageHtml } from '../../src/process/status-page/status-html.js';

/** The status page's pure parts, on injected time: the chart's ring of rates, login sessions' expiry, the loopback rule, escaping. */

describe("the chart's stanza rate", () => {
  it('turns counter totals into per-second rates, oldest first, and keeps only the last `capacity` of them', () => {
    const rate = new StanzaRate(3);
    rate.sample(0, { routed: 0, forwarded: 0 });
    expect(rate.series()).toEqual([]);
    rate.sample(1000, { routed: 10, forwarded: 4 });
    rate.sample(3000, { routed: 30, forwarded: 4 });
    expect(rate.series()).toEqual([
      { at: 1000, routed: 10, forwarded: 4 },
      { at: 3000, routed: 10, forwarded: 0 },
    ]);
    rate.sample(4000, { routed: 31, forwarded: 5 });
    rate.sample(5000, { routed: 33, forwarded: 5 });
    expect(rate.series().map((s) => s.at)).toEqual([3000, 4000, 5000]);
    expect(rate.series().map((s) => s.routed)).toEqual([10, 1, 2]);
  });

  it('shows no negative rate when the counters start again (a new router)', () => {
    const rate = new StanzaRate();
    rate.sample(0, { routed: 100, forwarded: 100 });
    rate.sample(1000, { routed: 3, forwarded: 0 });
    rate.sample(2000, { routed: 5, forwarded: 1 });
    expect(rate.series()).toEqual([
      { at: 1000, routed: 0, forwarded: 0 },
      { at: 2000, routed: 2, forwarded: 1 },
    ]);
  });
});

describe('login sessions', () => {
  const policy = { idleMs: 1000, maxAgeMs: 5000, maxSessions: 2 };

  it('issues 256-bit base64url tokens and knows each one until logout', () => {
    const s = new LoginSessions(policy);
    const a = s.create('admin', 0);
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(s.check(a, 10)).toBe('admin');
    expect(s.check(`${a}x`, 10)).toBeUndefined();
    expect(s.check(undefined, 10)).toBeUndefined();
    s.end(a);
    expect(s.check(a, 20)).toBeUndefined();
  });

  it('ends a session after idleMs without a request, and after maxAgeMs however active', () => {
    const s = new LoginSessions(policy);
    const idle = s.create('admin', 0);
    expect(s.check(idle, 999)).toBe('admin');
    expect(s.check(idle, 1999)).toBeUndefined();
    const busy = s.create('admin', 0);
    for (let t = 900; t < 5000; t += 900) expect(s.check(busy, t)).toBe('admin');
    expect(s.check(busy, 5000)).toBeUndefined();
  });

  it('keeps at most maxSessions, dropping the oldest', () => {
    const s = new LoginSessions(policy);
    const [a, b, c] = [s.create('a', 0), s.create('b', 1), s.create('c', 2)];
    expect(s.size).toBe(2);
    expect([s.check(a, 3), s.check(b, 3), s.check(c, 3)]).toEqual([undefined, 'b', 'c']);
  });
});

describe('the loopback rule and the markup', () => {
  it('counts all of 127.0.0.0/8 and ::1 as loopback, also IPv4-mapped, and nothing else', () => {
    for (const a of ['127.0.0.1', '127.0.17.5', '::1', '::ffff:127.0.17.5']) expect(isLoopbackAddress(a)).toBe(true);
    for (const a of ['10.0.0.1', '::ffff:10.0.0.1', '128.0.0.1', '::', '0.0.0.0', '', undefined]) expect(isLoopbackAddress(a)).toBe(false);
  });

  it('escapes what the server puts into the login page', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;');
    const html = loginPageHtml({ nodeName: '<m1>', nonce: 'n', message: '<b>no</b>', user: '"><script>' });
    expect(html).not.toContain('<m1>');
    expect(html).not.toContain('<b>no</b>');
    expect(html).not.toContain('"><script>');
  });
});
