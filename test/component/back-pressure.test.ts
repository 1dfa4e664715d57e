import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallBridge, ReceivedMessage } from '../../src/bridge/call-bridge.js';
import { connectBridge, nextEvent } from '../helpers/bridges.js';
import { RawClient, authenticatedRaw as connectAuthenticated } from '../helpers/raw-client.js';
import { startTestNode, type LogCapture, type TestNode } from '../helpers/test-node.js';

/**
 * A call bridge that does not read must not make the server queue without
 * end, whoever fills its queue: the server's own answers included. Real
 * sockets; the node runs in this process, so its memory is ours to measure.
 */

const STALL_TIMEOUT_MS = 3000;
const MiB = 1024 * 1024;
/**
 * What the server may keep over the flood, measured after a full collection:
 * the 1 MiB send mark, a socket read or two (2-4 MiB measured). Before the
 * server's own replies were bounded it kept 9-17 MiB after 3 s, 47 after 20 s.
 */
const RETAINED_BOUND = 8 * MiB;
/** The backlog the cut-off logs: the send mark, plus what one socket read can answer (before: 9-16 MiB). */
const BACKLOG_BOUND = 2 * MiB;
/** The flooder gives up after this much even if the server never stops reading. */
const FLOOD_LIMIT = 512 * MiB;

let t: TestNode;
let cb2: CallBridge;
let cb3: CallBridge;

beforeAll(async () => {
  t = await startTestNode({
    callbridges: { cb1: 'secret-one-1234567890', cb2: 'secret-two-1234567890', cb3: 'secret-three-123456789', cb4: 'secret-four-1234567890', cb5: 'secret-five-1234567890' },
    sessionOptions: { stallTimeoutMs: STALL_TIMEOUT_MS },
  });
  cb2 = await connectBridge(t, 'cb2', 0);
  cb3 = await connectBridge(t, 'cb3', 1);
});

afterAll(async () => {
  await cb2?.close();
  await cb3?.close();
  await t?.close();
});

/**
 * What the process keeps: a full collection, a turn of the event loop (freed
 * buffers leave `external` only then), another collection. Without it the
 * figures are mostly garbage not yet collected: V8 lets the young generation
 * grow by 16 MiB and RSS by 30 under a burst like this one.
 */
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

async function retainedMemory(): Promise<NodeJS.MemoryUsage> {
  collectGarbage();
  await new Promise((resolve) => setImmediate(resolve));
  collectGarbage();
  return process.memoryUsage();
}

const authenticatedRaw = (name: string): Promise<RawClient> => connectAuthenticated(t.ports[0], name, t.secrets[name]!);

/** Resolves with the first log line of `event` that matches, polling the capture. */
function untilLogged(log: LogCapture, event: string, match: (line: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const check = setInterval(() => {
      const line = log.find(event).find(match);
      if (line) {
        clearInterval(check);
        resolve(line);
      } else if (Date.now() > deadline) {
        clearInterval(check);
        reject(new Error(`no ${event} log line within ${timeoutMs} ms`));
      }
    }, 20);
  });
}

/** Resolves when the server cuts `component` off for not reading. */
function untilStalled(component: string): Promise<Record<string, unknown>> {
  return untilLogged(t.log, 'component_stalled', (l) => l.component === component, 20_000);
}

/**
 * Writes `batch` to `client` as fast as its socket takes it, until `stop`:
 * once the server stops reading, the kernel buffers fill and no drain comes.
 */
async function writeUntil(client: RawClient, batch: string, stop: Promise<unknown>): Promise<number> {
  let stopped = false;
  void stop.then(() => (stopped = true), () => (stopped = true));
  let written = 0;
  while (!stopped && written < FLOOD_LIMIT) {
    written += batch.length;
    // Yield either way: the server runs on this event loop too.
    if (client.socket.write(batch)) await new Promise((resolve) => setImmediate(resolve));
    else await Promise.race([new Promise((resolve) => client.socket.once('drain', resolve)), client.closed, stop.catch(() => undefined)]);
  }
  return written;
}

/** One message cb2 → cb3 and one back. */
async function roundTrip(n: number): Promise<void> {
  const at3 = nextEvent<ReceivedMessage>(cb3);
  await cb2.sendMessage('cb3.example.test', `there ${n}`);
  expect((await at3).body).toBe(`there ${n}`);
  const at2 = nextEvent<ReceivedMessage>(cb2);
  await cb3.sendMessage('cb2.example.test', `back ${n}`);
  expect((await at2).body).toBe(`back ${n}`);
}

describe('back-pressure on replies the server makes itself', () => {
  it('stops reading a call bridge that pings the server and never reads; memory stays flat, others are served, the stall cut-off ends it', async () => {
    const flooder = await authenticatedRaw('cb1');
    // The flooder never reads again: every pong the server makes stays queued on the server's side.
    flooder.socket.pause();

    const start = await retainedMemory();
    let peakRss = start.rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 10);

    const stalled = untilStalled('cb1.example.test');
    let cutOff = false;
    void stalled.then(() => (cutOff = true), () => (cutOff = true));

    // One batch, built once: fresh strings per write would be the client's garbage in our figures.
    const batch = Array.from({ length: 500 }, (_, i) => `<iq type='get' id='p${i}' from='cb1.example.test' to='example.test'><ping xmlns='urn:xmpp:ping'/></iq>`).join('');
    const flood = writeUntil(flooder, batch, stalled);

    // Meanwhile two other call bridges keep talking, and are served.
    let trips = 0;
    const talk = (async () => {
      while (!cutOff) {
        await roundTrip(trips);
        if (!cutOff) trips++;
      }
    })();

    const stall = await stalled;
    // Measured at once: the queue is held until the socket is destroyed, 2 s after the cut-off.
    const atCutOff = await retainedMemory();
    clearInterval(sampler);
    const written = await flood;
    await talk;

    const retained = atCutOff.heapUsed + atCutOff.external - (start.heapUsed + start.external);
    const mib = (n: number) => (n / MiB).toFixed(1);
    console.log(
      `ping flood: ${mib(written)} MiB of pings written, ${trips} round trips between cb2 and cb3 meanwhile; ` +
        `at the cut-off the server queued ${mib(Number(stall.backlog))} MiB for cb1 and kept heap+external +${mib(retained)} MiB ` +
        `(rss +${mib(atCutOff.rss - start.rss)} MiB; peak rss +${mib(peakRss - start.rss)} MiB before collection)`,
    );

    expect(t.log.find('component_disconnected').find((l) => l.component === 'cb1.example.test')).toMatchObject({ by: 'us', condition: 'connection-timeout' });
    expect(trips).toBeGreaterThanOrEqual(1);
    expect(Number(stall.backlog)).toBeLessThan(BACKLOG_BOUND);
    expect(retained).toBeLessThan(RETAINED_BOUND);
    flooder.destroy();
    // The others are still served after the cut-off.
    await roundTrip(trips);
  });
});

describe('back-pressure between call bridges', () => {
  it('holds back a sender while its target does not read; when the target is cut off the sender is read again', async () => {
    const reader = await authenticatedRaw('cb4');
    reader.socket.pause();
    const sender = await authenticatedRaw('cb5');
    const stalled = untilStalled('cb4.example.test');
    const batch = Array.from({ length: 500 }, (_, i) => `<message from='cb5.example.test' to='cb4.example.test' id='m${i}'><body>are you there?</body></message>`).join('');
    const written = await writeUntil(sender, batch, stalled);
    const stall = await stalled;
    console.log(`sender wrote ${(written / MiB).toFixed(1)} MiB; the server queued ${(Number(stall.backlog) / MiB).toFixed(1)} MiB for the reader`);
    // Had the sender been read all along, all it wrote would be queued for the reader.
    expect(Number(stall.backlog)).toBeLessThan(BACKLOG_BOUND);
    expect(t.log.find('component_disconnected').find((l) => l.component === 'cb4.example.test')).toMatchObject({ condition: 'connection-timeout' });
    // Released: what it still had in flight is read now, and bounces, cb4 being gone.
    await sender.waitFor(/<message[^>]*type="error"[^>]*>.*?<service-unavailable/, 10_000);
    await roundTrip(0);
    expect(t.log.find('component_stalled').map((l) => l.component)).not.toContain('cb5.example.test');
    reader.destroy();
    sender.destroy();
  });
});
