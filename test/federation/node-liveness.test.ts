import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { exchange, startOurNode, startProsodyPeer, startRig, withLogs, type Cleanups, type Rig } from '../helpers/federation-node.js';

/**
 * A peer that stops answering (federation.md, "Where we go further"): a real
 * Prosody frozen with SIGSTOP while our outgoing stream to it is up. With the
 * default liveness settings (a ping after 10 s of silence, dead 20 s later)
 * the node notices within 30 s (`peer-unresponsive`), closes the stream
 * (reason "ping timeout") and sets up a new one; every message our call
 * bridge sent meanwhile is accounted for once Prosody runs again: delivered
 * to its component, or bounced to our bridge, never silently dropped.
 */

let rig: Rig;
beforeAll(async () => {
  rig = await startRig({ dns: '127.0.13.21', ours: '127.0.13.22', prosody: '127.0.13.23', ejabberd: '127.0.13.24' });
}, 60_000);
afterAll(async () => rig?.stop());

const cleanups: Cleanups = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('a node whose federation peer stops answering', () => {
  it('a frozen Prosody is noticed within 30 s with the default settings; every message sent is delivered or bounced, none lost', async () => {
    const ours = await startOurNode(rig, { mode: 'dialback' }, cleanups);
    const prosody = await startProsodyPeer(rig, 'dialback', cleanups);
    // Runs before Prosody's stop (cleanups run last first): a stopped process would ignore SIGTERM.
    let frozen = false;
    cleanups.push(() => void (frozen && prosody.server.process.child.kill('SIGCONT')));
    await withLogs(ours, [prosody], async () => {
      await exchange(ours, prosody, 'warm');
      const [opened] = ours.log.events('connection-opened', { domain: prosody.component, direction: 'outgoing' });

      expect(prosody.server.process.child.kill('SIGSTOP')).toBe(true);
      frozen = true;
      // Written onto the stream to the frozen peer: unconfirmed until a ping is answered.
      const early = ['frozen-1', 'frozen-2', 'frozen-3'];
      for (const id of early) await ours.bridge.sendMessage(prosody.component, `while frozen ${id}`, id);

      const [unresponsive] = await ours.log.waitFor('peer-unresponsive', { domain: prosody.component, direction: 'outgoing' }, 40_000);
      expect(unresponsive).toMatchObject({ node: 'cms1', streamId: opened!.streamId, silentMs: 30_000, peer: `${rig.addresses.prosody}:5269` });
      const [closed] = await ours.log.waitFor('connection-closed', { domain: prosody.component, direction: 'outgoing' });
      expect(closed).toMatchObject({ reason: 'ping timeout', streamId: opened!.streamId });

      // Queued for the stream that replaces it (its connection waits on the frozen peer).
      const late = ['late-1', 'late-2'];
      for (const id of late) await ours.bridge.sendMessage(prosody.component, `after the ping timeout ${id}`, id);

      prosody.server.process.child.kill('SIGCONT');
      frozen = false;
      const sent = [...early, ...late];
      const delivered = (id: string) => prosody.inbox.messages.filter((m) => m.id === id && !m.error);
      const bounced = (id: string) => ours.inbox.messages.filter((m) => m.id === id && m.type === 'error');
      await prosody.inbox.waitFor(() => sent.every((id) => delivered(id).length + bounced(id).length > 0), 'every message delivered or bounced', 60_000);

      for (const id of sent) {
        const outcome = { id, delivered: delivered(id).length, bounced: bounced(id).map((b) => b.error) };
        // Exactly one outcome each: one delivery, or one bounce with the condition of a peer that timed out.
        expect([
          { id, delivered: 1, bounced: [] },
          { id, delivered: 0, bounced: ['remote-server-timeout'] },
        ]).toContainEqual(outcome);
      }
      // The frozen three (and the warm-up message, never confirmed before the freeze) were read from the dead socket once
      // Prosody ran again; its late answer to the ping written after them kept them from being written twice.
      expect(ours.log.lines.filter((l) => l.module === 'XMPPFederation' && l.domain === prosody.component && l.confirmed === early.length + 1)).toHaveLength(1);
      // A new stream carries what follows.
      await exchange(ours, prosody, 'thawed');
    });
  }, 150_000);
});
