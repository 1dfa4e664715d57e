import { afterEach, describe, expect, it } from 'vitest';
import { TransportError, type FrameKind, type PeerEndpoint, type PeerHello, type PeerId, type Transport } from '../../../cluster/transport/transport.js';
import { Condition } from '../../helpers/condition.js';

/** What one implementation gives the behaviour suite. */
export interface TransportHarness {
  /** A transport for member `id`, not started: on `endpoint` when given (a restart), else on a fresh one. */
  create(id: PeerId, endpoint?: PeerEndpoint): Transport;
  /** An endpoint where nothing listens. */
  deadEndpoint(): Promise<PeerEndpoint>;
}

const WAIT_MS = 10_000;

/** A transport with everything it reported, for waiting on and asserting. */
class Observed {
  readonly ups: PeerHello[] = [];
  readonly downs: Array<{ peer: PeerId; reason: string }> = [];
  readonly frames: Array<{ from: PeerId; kind: FrameKind; text: string }> = [];
  constructor(
    readonly t: Transport,
    private readonly cond: Condition,
  ) {
    t.on('linkUp', (hello) => this.note(() => this.ups.push(hello)));
    t.on('linkDown', (peer, reason) => this.note(() => this.downs.push({ peer, reason })));
    t.on('frame', (from, kind, payload) => this.note(() => this.frames.push({ from, kind, text: Buffer.from(payload).toString() })));
  }
  get id(): PeerId {
    return this.t.self.id;
  }
  private note(record: () => void): void {
    record();
    this.cond.changed();
  }
  framesOf(kinds: FrameKind[]): string[] {
    return this.frames.filter((f) => kinds.includes(f.kind)).map((f) => f.text);
  }
}

function peersOf(...others: Observed[]): Map<PeerId, PeerEndpoint> {
  return new Map(others.map((o) => [o.id, o.t.self.endpoint]));
}

const text = (s: string) => Buffer.from(s);

export function transportBehaviour(name: string, makeHarness: () => TransportHarness): void {
  describe(`${name}: the transport contract`, () => {
    const open: Transport[] = [];
    const cond = new Condition();
    let harness: TransportHarness;

    afterEach(async () => {
      await Promise.all(open.splice(0).map((t) => t.close()));
    });

    async function started(id: PeerId, endpoint?: PeerEndpoint): Promise<Observed> {
      harness ??= makeHarness();
      const t = harness.create(id, endpoint);
      open.push(t);
      const observed = new Observed(t, cond);
      await t.start();
      return observed;
    }

    function until(holds: () => boolean, what: string): Promise<void> {
      return cond.until(holds, WAIT_MS, () => `timed out waiting for ${what}`);
    }

    async function linked(a: Observed, b: Observed): Promise<void> {
      a.t.setPeers(peersOf(b));
      await until(() => a.t.connected().includes(b.id) && b.t.connected().includes(a.id), `a link ${a.id}–${b.id}`);
    }

    it('reports a link up once on each side, and down once on each when one side closes', async () => {
      const [a, b] = [await started('a'), await started('b')];
      await linked(a, b);
      expect(a.ups.map((h) => h.id)).toEqual(['b']);
      expect(b.ups.map((h) => h.id)).toEqual(['a']);
      expect(b.ups[0]).toEqual(a.t.self);
      await b.t.close();
      await until(() => a.downs.length === 1, 'linkDown on the side that stayed');
      expect(a.downs[0]!.peer).toBe('b');
      expect(b.downs.map((d) => d.peer)).toEqual(['a']);
      expect(a.t.connected()).toEqual([]);
      expect(b.t.connected()).toEqual([]);
      expect(a.t.send('b', 'raft', text('late'))).toBe(false);
      expect(a.ups).toHaveLength(1);
    });

    it('delivers frames in order with their kinds, Raft and control in one order, stanzas in another', async () => {
      const [a, b] = [await started('a'), await started('b')];
      await linked(a, b);
      const urgent: string[] = [];
      const stanzas: string[] = [];
      for (let i = 0; i < 60; i++) {
        const kind: FrameKind = i % 3 === 0 ? 'raft' : i % 3 === 1 ? 'control' : 'stanza';
        (kind === 'stanza' ? stanzas : urgent).push(`${kind}-${i}`);
        expect(a.t.send('b', kind, text(`${kind}-${i}`))).toBe(true);
      }
      expect(b.t.send('a', 'control', text('back'))).toBe(true);
      await until(() => b.frames.length === 60 && a.frames.length === 1, 'all frames');
      expect(b.framesOf(['raft', 'control'])).toEqual(urgent);
      expect(b.framesOf(['stanza'])).toEqual(stanzas);
      expect(b.frames.every((f) => f.from === 'a' && f.text.startsWith(f.kind))).toBe(true);
      expect(a.frames).toEqual([{ from: 'b', kind: 'control', text: 'back' }]);
    });

    it('refuses to send with no link up', async () => {
      const a = await started('a');
      expect(a.t.send('nobody', 'raft', text('x'))).toBe(false);
      expect(a.t.queuedStanzaBytes('nobody')).toBe(0);
      expect(a.t.connected()).toEqual([]);
    });

    it('fails a dial to an endpoint where nothing listens as unreachable, naming it', async () => {
      const a = await started('a');
      const dead = await harness.deadEndpoint();
      const err = await a.t.dial(dead, 300).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(TransportError);
      expect((err as TransportError).code).toBe('unreachable');
      expect((err as TransportError).message).toMatch(new RegExp(`cannot reach ${dead.host.replace(/\./g, '\\.')}:${dead.port} \\(tried for \\d+\\.\\d s\\)`));
    });

    it('resolves a dial with the other side’s hello, and the link carries frames both ways', async () => {
      const [a, b] = [await started('a'), await started('b')];
      const hello = await a.t.dial(b.t.self.endpoint, 5000);
      expect(hello).toEqual(b.t.self);
      await until(() => b.t.connected().includes('a'), 'the link on the dialed side');
      expect(a.t.connected()).toEqual(['b']);
      a.t.send('b', 'control', text('join?'));
      b.t.send('a', 'control', text('welcome'));
      await until(() => a.frames.length === 1 && b.frames.length === 1, 'frames both ways');
      expect(b.frames[0]).toEqual({ from: 'a', kind: 'control', text: 'join?' });
      expect(a.ups).toHaveLength(1);
      expect(b.ups).toHaveLength(1);
    });

    it('keeps exactly one link when two members dial each other at once', async () => {
      for (let round = 0; round < 4; round++) {
        const [a, b] = [await started(`a${round}`), await started(`b${round}`)];
        a.t.setPeers(peersOf(b));
        b.t.setPeers(peersOf(a));
        await until(() => a.ups.length > 0 && b.ups.length > 0, 'links up');
        // A round trip on the link after the tie-break had time to close the duplicate.
        for (let i = 0; i < 3; i++) {
          a.t.send(b.id, 'raft', text(`ping-${i}`));
          await until(() => b.frames.length > i, 'a ping');
          b.t.send(a.id, 'raft', text(`pong-${i}`));
          await until(() => a.frames.length > i, 'a pong');
        }
        expect([a.ups.length, b.ups.length, a.downs.length, b.downs.length]).toEqual([1, 1, 0, 0]);
        expect(a.t.connected()).toEqual([b.id]);
        expect(b.t.connected()).toEqual([a.id]);
        expect(b.framesOf(['raft'])).toEqual(['ping-0', 'ping-1', 'ping-2']);
      }
    });

    it('links again by itself after the other side restarts on the same endpoint', async () => {
      const [a, b] = [await started('a'), await started('b')];
      await linked(a, b);
      const endpoint = b.t.self.endpoint;
      await b.t.close();
      await until(() => a.downs.length === 1, 'linkDown');
      const again = await started('b', endpoint);
      // Only `a` wants the link: its redial finds the restarted member.
      await until(() => a.ups.length === 2 && again.ups.length === 1, 'the link after the restart');
      a.t.send('b', 'raft', text('after restart'));
      await until(() => again.frames.length === 1, 'a frame after the restart');
      expect(again.frames[0]!.text).toBe('after restart');
    });

    it('does not redial a peer removed from the set', async () => {
      const [a, b] = [await started('a'), await started('b')];
      await linked(a, b);
      const endpoint = b.t.self.endpoint;
      a.t.setPeers(new Map());
      await b.t.close();
      await until(() => a.downs.length === 1, 'linkDown');
      const again = await started('b', endpoint);
      const c = await started('c');
      await linked(a, c);
      for (let i = 0; i < 5; i++) {
        a.t.send('c', 'raft', text(`ping-${i}`));
        await until(() => c.frames.length > i, 'a ping');
      }
      expect(a.t.connected()).toEqual(['c']);
      expect(again.ups).toEqual([]);
    });

    it('writes Raft frames ahead of queued stanza frames', async () => {
      const [a, b] = [await started('a'), await started('b')];
      await linked(a, b);
      const count = 2000;
      const bulk = 'x'.repeat(1024);
      for (let i = 0; i < count; i++) a.t.send('b', 'stanza', text(`${i}:${bulk}`));
      expect(a.t.queuedStanzaBytes('b')).toBeGreaterThan(0);
      a.t.send('b', 'raft', text('heartbeat'));
      await until(() => b.frames.length === count + 1, 'the flood and the heartbeat');
      const at = b.frames.findIndex((f) => f.kind === 'raft');
      expect(at).toBeLessThan(count / 2);
      expect(b.framesOf(['stanza']).map((s) => Number(s.split(':')[0]))).toEqual([...Array(count).keys()]);
      await until(() => a.t.queuedStanzaBytes('b') === 0, 'an empty stanza queue');
    });
  });
}
