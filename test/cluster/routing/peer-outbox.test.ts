import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_BATCH_BYTES, PeerOutbox } from '../../../cluster/routing/peer-outbox.js';
import { LEAN_FWD_TAG } from '../../../cluster/routing/binary-messages.js';
import { BATCH_TAG, forEachRoutingMessage, ROUTING_BATCHES, ROUTING_LEAN, type RoutingMessage } from '../../../cluster/routing/routing-messages.js';
import { MemoryNetwork, type MemoryTransport } from '../../../cluster/transport/memory-transport.js';
import { Condition } from '../../helpers/condition.js';

const log = pino({ level: 'silent' });
let transports: MemoryTransport[] = [];

afterEach(async () => {
  await Promise.all(transports.map((t) => t.close()));
  transports = [];
});

/** Two linked transports; what n2 receives, frame by frame. */
async function pair(): Promise<{ outbox: PeerOutbox; frames: RoutingMessage[][]; batchFrames: () => number; leanFrames: () => number; changed: Condition }> {
  const network = new MemoryNetwork();
  const endpoints = new Map([
    ['n1', { host: '127.0.0.1', port: 5999 }],
    ['n2', { host: '127.0.0.2', port: 5999 }],
  ]);
  const [t1, t2] = [...endpoints].map(([id, endpoint]) => network.transport({ id, name: id, endpoint })) as [MemoryTransport, MemoryTransport];
  transports = [t1, t2];
  const frames: RoutingMessage[][] = [];
  let batches = 0;
  let leanFrames = 0;
  const changed = new Condition();
  t2.on('frame', (_from, _kind, payload) => {
    if (payload[0] === BATCH_TAG) batches++;
    leanFrames += payload[0] === LEAN_FWD_TAG || (payload[0] === BATCH_TAG && payload[5] === LEAN_FWD_TAG) ? 1 : 0;
    const messages: RoutingMessage[] = [];
    forEachRoutingMessage(payload, (m) => messages.push(m));
    frames.push(messages);
    changed.changed();
  });
  t1.on('linkUp', () => changed.changed());
  for (const t of transports) await t.start();
  for (const t of transports) t.setPeers(endpoints);
  await changed.until(() => t1.connected().includes('n2'), 5000, () => 'no link');
  return { outbox: new PeerOutbox(t1, log), frames, batchFrames: () => batches, leanFrames: () => leanFrames, changed };
}

function dlv(dseq: number, raw: string): RoutingMessage {
  return { t: 'dlv', gen: 1, dseq, origin: 'n3', epoch: 'e', seq: dseq, to: 'b.example.test', sid: 1, raw };
}

describe('PeerOutbox', () => {
  it("gathers a turn's deliveries and confirmations into one frame, then sends another message after them", async () => {
    const { outbox, frames, changed } = await pair();
    outbox.setFeatures('n2', [ROUTING_BATCHES]);
    for (let n = 1; n <= 3; n++) outbox.send('n2', dlv(n, `<message id='${n}'/>`));
    outbox.ack('n2', 'e', 7);
    outbox.dack('n2', 1, 2);
    outbox.send('n2', { t: 'detach', address: 'b.example.test', sid: 1 });
    await changed.until(() => frames.length === 2, 5000, () => `${frames.length} frames`);
    expect(frames[0]!.map((m) => m.t)).toEqual(['dlv', 'dlv', 'dlv', 'dack', 'ack']);
    expect(frames[1]).toEqual([{ t: 'detach', address: 'b.example.test', sid: 1 }]);
  });

  it('starts a new frame before one grows past MAX_BATCH_BYTES, keeping the order', async () => {
    const { outbox, frames, changed } = await pair();
    outbox.setFeatures('n2', [ROUTING_BATCHES]);
    const raw = `<message>${'x'.repeat(1000)}</message>`;
    const count = Math.ceil((3 * MAX_BATCH_BYTES) / raw.length);
    for (let n = 1; n <= count; n++) outbox.send('n2', dlv(n, raw));
    await changed.until(() => frames.flat().length === count, 5000, () => `${frames.flat().length} of ${count}`);
    expect(frames.length).toBeGreaterThanOrEqual(3);
    expect(frames.flat().map((m) => (m.t === 'dlv' ? m.dseq : -1))).toEqual(Array.from({ length: count }, (_, i) => i + 1));
  });

  it('sends one frame per message to a peer of a release before batch frames', async () => {
    const { outbox, frames, batchFrames, changed } = await pair();
    for (let n = 1; n <= 3; n++) outbox.send('n2', dlv(n, '<message/>'));
    outbox.ack('n2', 'e', 1);
    outbox.flushAll();
    await changed.until(() => frames.length === 4, 5000, () => `${frames.length} frames`);
    expect(batchFrames()).toBe(0);
    expect(frames.map((f) => f.map((m) => m.t))).toEqual([['dlv'], ['dlv'], ['dlv'], ['ack']]);
  });

  it('sends a fwd marked headOnly without its attributes only to a peer that lists routing-lean, batched or not', async () => {
    const stanza = { name: 'message' as const, attrs: { to: 'b.example.test', from: 'a.example.test', id: 'm1' }, raw: `<message to='b.example.test' from='a.example.test' id='m1'/>`, toDomain: 'b.example.test' };
    const fwd = (seq: number, headOnly: boolean): RoutingMessage => ({ t: 'fwd', epoch: 'e', seq, stanza, headOnly });
    const { outbox, frames, leanFrames, changed } = await pair();
    const cases: Array<[features: string[], headOnly: boolean, lean: boolean]> = [
      [[ROUTING_BATCHES, ROUTING_LEAN], true, true],
      [[ROUTING_BATCHES, ROUTING_LEAN], false, false],
      [[ROUTING_BATCHES], true, false],
      [[ROUTING_LEAN], true, true],
      [[], true, false],
    ];
    let seq = 0;
    for (const [features, headOnly, lean] of cases) {
      outbox.setFeatures('n2', features);
      const before = leanFrames();
      outbox.send('n2', fwd(++seq, headOnly));
      outbox.flushAll();
      await changed.until(() => frames.length === seq, 5000, () => `${frames.length} frames`);
      expect(leanFrames() - before, `${features.join(',')} headOnly ${headOnly}`).toBe(lean ? 1 : 0);
      const got = frames[seq - 1]![0]!;
      // Either way the leader reads the same attributes.
      expect(got.t === 'fwd' && { seq: got.seq, attrs: { ...got.stanza.attrs }, raw: got.stanza.raw }).toEqual({ seq, attrs: stanza.attrs, raw: stanza.raw });
    }
  });
});
