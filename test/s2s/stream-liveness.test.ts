import { describe, expect, it } from 'vitest';
import { DEFAULT_LIVENESS, pingStanza, StreamLiveness, type LivenessAction } from '../../src/s2s/stream-liveness.js';
import { parseStanza } from '../../src/xmpp/stanza.js';

/**
 * XEP-0199 liveness and the idle timeout over a fake clock: times are plain
 * numbers of milliseconds, the machine has no timers.
 */

const T0 = 1_000_000;

/** Ticks at every deadline the machine announces until `until`, collecting what it asked for and when. */
function run(l: StreamLiveness, until: number): Array<[number, LivenessAction]> {
  const out: Array<[number, LivenessAction]> = [];
  for (;;) {
    const at = l.nextDeadline();
    if (at === undefined || at > until) return out;
    const action = l.tick(at);
    if (action !== 'none') out.push([at - T0, action]);
  }
}

describe('XEP-0199 pings on a silent stream', () => {
  it('defaults: ping after 10 s of silence, dead 20 s later, idle close after 600 s', () => {
    expect(DEFAULT_LIVENESS).toEqual({ idleBeforePingMs: 10_000, pingTimeoutMs: 20_000, idleCloseMs: 600_000 });
  });

  it('sends nothing before 10 s of silence, then one ping', () => {
    const l = new StreamLiveness(T0);
    expect(l.tick(T0 + 9_999)).toBe('none');
    expect(l.tick(T0 + 10_000)).toBe('ping');
    expect(l.state).toBe('awaiting-pong');
    expect(l.tick(T0 + 15_000)).toBe('none');
  });

  it('a peer that never answers is dead 30 s after it was last heard from', () => {
    const l = new StreamLiveness(T0);
    expect(run(l, T0 + 100_000)).toEqual([
      [10_000, 'ping'],
      [30_000, 'dead'],
    ]);
    expect(l.state).toBe('dead');
    expect(l.nextDeadline()).toBeUndefined();
    expect(l.tick(T0 + 1_000_000)).toBe('none');
  });

  it('a late tick still declares it dead, whatever the timer did', () => {
    const l = new StreamLiveness(T0);
    expect(l.tick(T0 + 12_000)).toBe('ping');
    expect(l.tick(T0 + 45_000)).toBe('dead');
  });

  it('an answer to the ping ends the wait; the next ping comes 10 s after the answer', () => {
    const l = new StreamLiveness(T0);
    expect(l.tick(T0 + 10_000)).toBe('ping');
    l.heard(T0 + 10_050);
    expect(l.state).toBe('listening');
    expect(l.tick(T0 + 20_000)).toBe('none');
    expect(l.nextDeadline()).toBe(T0 + 20_050);
    expect(l.tick(T0 + 20_050)).toBe('ping');
    // Not dead at 30 s: the first ping's wait ended; the second one's ends at 40.05 s.
    expect(l.tick(T0 + 30_000)).toBe('none');
    expect(l.nextDeadline()).toBe(T0 + 40_050);
  });

  it('any traffic resets the silence: a talking peer is never pinged', () => {
    const l = new StreamLiveness(T0);
    for (let t = 5_000; t <= 300_000; t += 5_000) {
      l.stanza(T0 + t, 'received');
      expect(l.tick(T0 + t + 4_999)).toBe('none');
    }
  });

  it('whitespace and other bytes count as heard, without counting as stanzas', () => {
    const l = new StreamLiveness(T0, { idleCloseMs: 60_000 });
    for (let t = 5_000; t < 60_000; t += 5_000) l.heard(T0 + t);
    expect(l.tick(T0 + 59_999)).toBe('none');
    expect(l.tick(T0 + 60_000)).toBe('idle');
  });

  it('a pinged peer that answers every time stays up, one ping per 10 s of silence', () => {
    const l = new StreamLiveness(T0, { idleCloseMs: 10_000_000 });
    const pings: number[] = [];
    for (let i = 0; i < 20; i++) {
      const at = l.nextDeadline()!;
      expect(l.tick(at)).toBe('ping');
      pings.push(at - T0);
      l.heard(at + 100);
    }
    expect(pings.slice(0, 3)).toEqual([10_000, 20_100, 30_200]);
    expect(l.state).toBe('listening');
  });

  it('sending stanzas is no sign of life from the peer', () => {
    const l = new StreamLiveness(T0);
    l.stanza(T0 + 5_000, 'sent');
    expect(l.tick(T0 + 10_000)).toBe('ping');
    l.stanza(T0 + 20_000, 'sent');
    expect(l.tick(T0 + 30_000)).toBe('dead');
  });

  it('a checkpoint ping left unanswered makes the stream dead 20 s after it went out, not 30 s', () => {
    const l = new StreamLiveness(T0);
    l.pinged(T0 + 4_000);
    expect(l.state).toBe('awaiting-pong');
    expect(run(l, T0 + 100_000)).toEqual([[24_000, 'dead']]);
  });

  it('a checkpoint ping while one is awaited keeps the earlier deadline; an answer ends the wait', () => {
    const l = new StreamLiveness(T0);
    expect(l.tick(T0 + 10_000)).toBe('ping');
    l.pinged(T0 + 15_000);
    expect(l.nextDeadline()).toBe(T0 + 30_000);
    l.heard(T0 + 16_000);
    l.pinged(T0 + 17_000);
    expect(run(l, T0 + 100_000)).toEqual([[37_000, 'dead']]);
  });

  it('a clock read out of order never moves the deadlines back', () => {
    const l = new StreamLiveness(T0);
    l.heard(T0 + 8_000);
    l.heard(T0 + 3_000);
    expect(l.nextDeadline()).toBe(T0 + 18_000);
  });
});

describe('the idle timeout', () => {
  it('closes after 600 s without a stanza, pings and their answers notwithstanding', () => {
    const l = new StreamLiveness(T0);
    const actions: Array<[number, LivenessAction]> = [];
    for (;;) {
      const at = l.nextDeadline();
      if (at === undefined) break;
      const action = l.tick(at);
      if (action !== 'none') actions.push([at - T0, action]);
      if (action === 'ping') l.heard(at + 10);
    }
    expect(actions.at(-1)).toEqual([600_000, 'idle']);
    expect(actions.filter(([, a]) => a === 'ping').length).toBeGreaterThan(50);
    expect(l.state).toBe('idle');
  });

  it('counts stanzas either way: one sent or received restarts the 600 s', () => {
    const l = new StreamLiveness(T0, { idleBeforePingMs: 1_000_000, pingTimeoutMs: 1_000 });
    l.stanza(T0 + 500_000, 'sent');
    expect(l.tick(T0 + 600_000)).toBe('none');
    l.stanza(T0 + 1_000_000, 'received');
    expect(l.tick(T0 + 1_099_999)).toBe('none');
    expect(l.tick(T0 + 1_600_000)).toBe('idle');
  });

  it('names the earlier of the two deadlines', () => {
    const l = new StreamLiveness(T0, { idleCloseMs: 5_000 });
    expect(l.nextDeadline()).toBe(T0 + 5_000);
    expect(l.tick(T0 + 5_000)).toBe('idle');
    expect(l.heard(T0 + 6_000)).toBeUndefined();
    expect(l.state).toBe('idle');
  });

  it('a ping timeout due at the same moment as the idle close is reported as dead', () => {
    const l = new StreamLiveness(T0, { idleBeforePingMs: 10_000, pingTimeoutMs: 20_000, idleCloseMs: 30_000 });
    expect(l.tick(T0 + 10_000)).toBe('ping');
    expect(l.tick(T0 + 30_000)).toBe('dead');
  });
});

describe('options and the ping stanza', () => {
  it('takes its intervals from the settings', () => {
    const l = new StreamLiveness(T0, { idleBeforePingMs: 1_000, pingTimeoutMs: 2_000 });
    expect(run(l, T0 + 10_000)).toEqual([
      [1_000, 'ping'],
      [3_000, 'dead'],
    ]);
  });

  it('refuses intervals that are not positive', () => {
    expect(() => new StreamLiveness(T0, { idleBeforePingMs: 0 })).toThrow(RangeError);
    expect(() => new StreamLiveness(T0, { pingTimeoutMs: -1 })).toThrow(RangeError);
    expect(() => new StreamLiveness(T0, { idleCloseMs: Number.NaN })).toThrow(RangeError);
  });

  it('builds the XEP-0199 §4.2 server-to-server ping', () => {
    const el = parseStanza(pingStanza('example.test', 'other.test', 'ping-1'));
    expect(el.name).toBe('iq');
    expect(el.attrs).toEqual({ from: 'example.test', to: 'other.test', id: 'ping-1', type: 'get' });
    expect(el.getChild('ping', 'urn:xmpp:ping')).toBeDefined();
  });
});
