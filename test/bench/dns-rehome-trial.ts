import type { ReceivedMessage } from '../../src/bridge/call-bridge.js';
import type { SrvCallBridge, SrvTargetAddress } from '../../src/bridge/srv-call-bridge.js';
import { stanza, type BenchComponent } from './bench-component.js';
import { BenchClusterError, type BenchClusterNode } from './bench-cluster.js';

/**
 * One re-homing trial (issue 14, "Benchmark"): steady traffic, one stanza
 * a millisecond with a sequence number in each body, from a call bridge on
 * a surviving node to a call bridge found by SRV on `home`; `home` killed
 * with SIGKILL; the time from the kill to the first stanza the moving
 * bridge receives after its session dropped (so through its new node).
 * Every sequence number is then counted: lost, duplicated, out of order.
 * A stanza the dying node had written to the bridge's socket but whose
 * confirmation had not reached the leader is delivered again by the new
 * node (no server can tell it from a lost one): it shows as a duplicate.
 */

/** Target rate of the steady traffic, and the figures' resolution. */
const PER_MS = 1;
/** Stanzas delivered on `home` before the kill: the route is in steady state. */
const STEADY = 200;
/** Traffic keeps going this long after the first stanza on the new node, so late replays or doubles would show. */
const AFTER_RESUME_MS = 300;
const NO_DELIVERY_MS = 30_000;

export interface RehomeTrial {
  /** Kill to the first stanza received on the new node. */
  ms: number;
  /** Kill to the bridge seeing its session drop. */
  dropMs: number;
  /** Kill to the session on the new node (its 'connected'). */
  connectedMs: number;
  /** The new node's address. */
  landed: string;
  sent: number;
  lost: number;
  duplicated: number;
  /** Of the duplicates: delivered by the dying node before the drop, then again by the new node. */
  redelivered: number;
  /** First deliveries that came after a higher sequence number. */
  reordered: number;
  /** Error stanzas that came back to the sender. */
  bounced: number;
}

export interface TrialParties {
  moving: SrvCallBridge;
  sender: BenchComponent;
  /** The sender's and the moving bridge's component addresses. */
  from: string;
  to: string;
  home: BenchClusterNode;
  /** Logs for an error message. */
  tails: () => string;
  /** Called at the kill (the responder trials watch the answers from there). */
  onKill?: () => void;
}

const start = process.hrtime.bigint();
const now = () => Number(process.hrtime.bigint() - start) / 1e6; // ms
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new BenchClusterError(what());
    await sleep(1);
  }
}

export async function rehomeTrial(p: TrialParties): Promise<RehomeTrial> {
  const counts = new Map<number, number>();
  let maxSeen = -1;
  let reordered = 0;
  /** Delivered by `home` before the drop; a second copy after it came from the new node. */
  const beforeDrop = new Set<number>();
  let redelivered = 0;
  let probeSeen = false;
  let killAt = NaN;
  let droppedAt = NaN;
  let connectedAt = NaN;
  let firstAfterAt = NaN;
  let landed = '';
  const onMessage = (m: ReceivedMessage) => {
    const t = now();
    const match = /payload (p?)(\d+)$/.exec(m.body);
    if (m.error || !match) return;
    if (match[1]) {
      probeSeen = true;
      return;
    }
    const seq = Number(match[2]);
    const n = counts.get(seq) ?? 0;
    counts.set(seq, n + 1);
    const moved = !Number.isNaN(droppedAt);
    if (n === 0) {
      // Order among first deliveries; a second copy counts as a duplicate only.
      if (seq < maxSeen) reordered++;
      else maxSeen = seq;
      if (!moved) beforeDrop.add(seq);
    } else if (moved && beforeDrop.has(seq)) redelivered++;
    if (moved && Number.isNaN(firstAfterAt)) firstAfterAt = t;
  };
  const onDropped = () => {
    if (!Number.isNaN(killAt) && Number.isNaN(droppedAt)) droppedAt = now();
  };
  const onConnected = (to: SrvTargetAddress) => {
    if (Number.isNaN(droppedAt) || !Number.isNaN(connectedAt)) return;
    connectedAt = now();
    landed = to.address;
  };
  p.moving.on('message', onMessage);
  p.moving.on('dropped', onDropped);
  p.moving.on('connected', onConnected);
  const bouncedBefore = p.sender.received;
  const sentAt: number[] = [];
  let timer: NodeJS.Timeout | undefined;
  try {
    // The route from the sender to the moving bridge works before anything is counted.
    for (let k = 0; !probeSeen; k++) {
      if (k > 150) throw new BenchClusterError(`no probe reached ${p.to} on ${p.home.name}; logs:\n${p.tails()}`);
      p.sender.write(stanza(k, p.from, p.to).replace('payload ', 'payload p'));
      await until(() => probeSeen, 100, () => '').catch(() => undefined);
    }
    const began = now();
    timer = setInterval(() => {
      const due = Math.min(20, Math.floor((now() - began) * PER_MS) - sentAt.length);
      const texts: string[] = [];
      for (let k = 0; k < due; k++) {
        sentAt.push(now());
        texts.push(stanza(sentAt.length - 1, p.from, p.to));
      }
      if (texts.length > 0) p.sender.write(texts.join(''));
    }, 1);
    await until(() => counts.size >= STEADY, 15_000, () => `steady traffic did not flow to ${p.home.name}: ${counts.size} of ${sentAt.length} delivered`);
    killAt = now();
    p.onKill?.();
    await p.home.kill();
    await until(() => !Number.isNaN(firstAfterAt), NO_DELIVERY_MS, () => `${p.to} received nothing ${NO_DELIVERY_MS} ms after killing ${p.home.name} (dropped: ${!Number.isNaN(droppedAt)}, reconnected: ${landed || 'no'}); logs:\n${p.tails()}`);
    await sleep(AFTER_RESUME_MS);
  } finally {
    clearInterval(timer);
  }
  const total = sentAt.length;
  try {
    // Everything sent must arrive; then a moment more for doubles.
    await until(() => counts.size >= total, 15_000, () => '').catch(() => undefined);
    await sleep(200);
  } finally {
    p.moving.off('message', onMessage);
    p.moving.off('dropped', onDropped);
    p.moving.off('connected', onConnected);
  }
  let lost = 0;
  let duplicated = 0;
  for (let seq = 0; seq < total; seq++) {
    const n = counts.get(seq) ?? 0;
    if (n === 0) lost++;
    else duplicated += n - 1;
  }
  return {
    ms: firstAfterAt - killAt,
    dropMs: droppedAt - killAt,
    connectedMs: connectedAt - killAt,
    landed,
    sent: total,
    lost,
    duplicated,
    redelivered,
    reordered,
    bounced: p.sender.received - bouncedBefore,
  };
}
