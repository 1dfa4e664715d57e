import { stanza, type BenchComponent } from './bench-component.js';

/**
 * The time to detect a silent peer (federation.md: "a silent peer is
 * detected by pings within 30 s"): with our outgoing stream up to a Prosody,
 * SIGSTOP that Prosody (its sockets stay open, it answers nothing) and
 * measure from the signal to our node's `peer-unresponsive` event (the
 * `time` of its log line; the same clock as ours). Then SIGCONT: our node
 * re-sends what the dead stream did not confirm on a new one, and the next
 * trial starts once a marker stanza gets through again.
 *
 * `idle`: nothing flows after the marker that proves the stream up, so
 * detection is bounded by the last sign of life (the stream's opening or a
 * pong) + ping after 10 s of silence + dead 20 s later. `traffic`: a steady
 * stream of stanzas (1 per ms) up to the SIGSTOP; its checkpoint pings
 * (sent-window.ts) are answered while the peer runs, so the last sign of
 * life is at most one checkpoint before the signal. `through`: the same
 * traffic goes on after the SIGSTOP until the event, as a bridge's would: the
 * next checkpoint ping goes unanswered, and the stream is dead 20 s after it.
 */

export type DetectionMode = 'idle' | 'traffic' | 'through';

export interface DetectionTrial {
  mode: DetectionMode;
  /** SIGSTOP to our `peer-unresponsive` event. */
  detectMs: number;
  /** The stream that died was opened this long before the SIGSTOP. */
  streamAgeMs: number;
  /** Stanzas sent in the traffic (0 when idle). */
  sent: number;
}

export interface DetectionContext {
  /** Our node's log so far (JSON lines). */
  log(): string;
  /** The silent-to-be Prosody's process id. */
  peerPid: number;
  ours: BenchComponent;
  theirs: BenchComponent;
  from: string;
  to: string;
}

interface LogEvent {
  /** ms since the epoch (the node logs ISO times: parsed here). */
  time: number;
  event?: string;
  domain?: string;
  direction?: string;
  reason?: string;
}

function events(log: string, domain: string): LogEvent[] {
  const out: LogEvent[] = [];
  for (const line of log.split('\n')) {
    if (!line.includes('"event"') || !line.includes(domain)) continue;
    try {
      const e = JSON.parse(line) as Omit<LogEvent, 'time'> & { time: string | number };
      if (e.domain === domain && e.direction === 'outgoing') out.push({ ...e, time: typeof e.time === 'number' ? e.time : Date.parse(e.time) });
    } catch {
      // A line being written: read again next time.
    }
  }
  return out;
}

async function until<T>(what: string, timeoutMs: number, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`federation detection: ${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let markers = 0;

/** One stanza from ours to theirs, resolved when that one (by its id, not a re-sent one) arrives: the stream is up. */
async function marker(c: DetectionContext): Promise<void> {
  const n = 1_000_000 + ++markers;
  const id = `id='m${n}'`;
  let seen = '';
  let arrived = false;
  const onData = (d: string) => {
    // The id may sit anywhere in a large chunk: look before keeping only the tail (for an id split across chunks).
    const text = seen + d;
    if (text.includes(id)) arrived = true;
    seen = text.slice(-id.length);
  };
  c.theirs.socket.on('data', onData);
  try {
    c.ours.write(stanza(n, c.from, c.to));
    await until(`the marker stanza ${id} to arrive (the bridge's socket holds ${c.ours.socket.writableLength} bytes unsent; theirs received ${c.theirs.received} messages, ours ${c.ours.received})`, 60_000, () => (arrived ? true : undefined));
  } finally {
    c.theirs.socket.off('data', onData);
  }
}

export async function detectionTrial(c: DetectionContext, mode: DetectionMode, trafficMs: number): Promise<DetectionTrial> {
  await marker(c);
  const traffic = mode === 'idle' ? undefined : steadyTraffic(c);
  if (traffic) await traffic.after(trafficMs);
  if (mode === 'traffic') traffic!.stop();
  const before = events(c.log(), c.to);
  const opened = before.filter((e) => e.event === 'connection-opened').at(-1);
  const stoppedAt = Date.now();
  process.kill(c.peerPid, 'SIGSTOP');
  try {
    const dead = await until('our peer-unresponsive event', 90_000, () => events(c.log(), c.to).find((e) => e.event === 'peer-unresponsive' && e.time >= stoppedAt));
    traffic?.stop();
    // The ping-timeout close follows at once; then the peer may run again.
    await until('the ping-timeout close', 10_000, () => events(c.log(), c.to).find((e) => e.event === 'connection-closed' && e.reason === 'ping timeout' && e.time >= stoppedAt));
    return { mode, detectMs: dead.time - stoppedAt, streamAgeMs: opened ? stoppedAt - opened.time : NaN, sent: traffic?.sent() ?? 0 };
  } finally {
    traffic?.stop();
    process.kill(c.peerPid, 'SIGCONT');
  }
}

/** 1 stanza per ms from ours to theirs, written in batches every millisecond or so, until stopped. */
function steadyTraffic(c: DetectionContext): { after(ms: number): Promise<void>; stop(): void; sent(): number } {
  const start = Date.now();
  let sent = 0;
  const timer = setInterval(() => {
    const due = Date.now() - start;
    let batch = '';
    for (; sent < due; sent++) batch += stanza(sent, c.from, c.to);
    if (batch) c.ours.write(batch);
  }, 1);
  return {
    after: (ms) => new Promise((r) => setTimeout(r, Math.max(0, start + ms - Date.now()))),
    stop: () => clearInterval(timer),
    sent: () => sent,
  };
}

export async function runDetectionTrials(c: DetectionContext, o: { trials: number; trafficMs: number; modes?: DetectionMode[] }): Promise<DetectionTrial[]> {
  const out: DetectionTrial[] = [];
  for (const mode of o.modes ?? (['idle', 'traffic', 'through'] as const)) {
    for (let i = 0; i < o.trials; i++) out.push(await detectionTrial(c, mode, o.trafficMs));
  }
  // The last SIGCONT: the peer is back and a stream carries stanzas again.
  await marker(c);
  return out;
}
