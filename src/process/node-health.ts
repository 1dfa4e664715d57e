import type { XmppNode } from '../node/xmpp-node.js';
import type { LoopStallDetector } from '../observability/loop-stall.js';

/**
 * `GET /healthz` and `GET /readyz` as data, in Kubernetes' sense
 * (https://kubernetes.io/docs/reference/using-api/health-checks/): healthz
 * says the process should not be restarted (alive, its loop not stalled);
 * readyz says call bridges should be sent here (it can route: the XMPP
 * server runs, and in a cluster this member knows a leader, through which
 * every stanza goes).
 */

export interface HealthVerdict {
  readonly ok: boolean;
  /** `ok`, or one line saying what is wrong. */
  readonly reason: string;
  /** For `?format=json`: what the verdict was made of. */
  readonly details: Readonly<Record<string, unknown>>;
}

export function liveness(loop: LoopStallDetector): HealthVerdict {
  const h = loop.health();
  const details = { eventLoopDelaySeconds: round(h.worstDelaySeconds), thresholdSeconds: h.thresholdSeconds };
  if (!h.stalled) return { ok: true, reason: 'ok', details };
  return { ok: false, reason: `the event loop stalled for ${h.worstDelaySeconds.toFixed(2)} s (over ${h.thresholdSeconds} s)`, details };
}

export async function readiness(node: XmppNode): Promise<HealthVerdict> {
  const service = node.serviceState();
  const cluster = node.cluster;
  const member = cluster?.isMember() === true;
  const status = member ? await cluster!.status().catch(() => undefined) : undefined;
  const leader = status?.members.find((m) => m.leader);
  const details = {
    xmpp: service.state,
    clusterMember: member,
    ...(member ? { role: status?.state.toLowerCase() ?? 'unknown', leader: leader?.name ?? null, term: status?.term ?? null } : {}),
  };
  const notRunning = serviceProblem(service);
  if (notRunning) return { ok: false, reason: notRunning, details };
  if (member && !leader) return { ok: false, reason: 'this cluster member knows no leader (no quorum)', details };
  return { ok: true, reason: 'ok', details };
}

function serviceProblem(s: ReturnType<XmppNode['serviceState']>): string | null {
  switch (s.state) {
    case 'running':
      return null;
    case 'disabled':
      return 'the XMPP server is disabled (xmpp enable)';
    case 'not-configured':
      return `the XMPP server is not configured: ${s.missing}`;
    case 'failed':
      return `the XMPP server failed: ${s.reason}`;
  }
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
