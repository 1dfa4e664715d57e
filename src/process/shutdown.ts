import type { ClusterService } from '../../cluster/member/cluster-service.js';
import type { ClusterRouter } from '../../cluster/routing/cluster-router.js';
import type { MmpSshServer } from '../mmp/ssh/server.js';
import type { XmppNode } from '../node/xmpp-node.js';
import type { Logger } from '../observability/logger.js';
import type { RunningFederation } from './federation-wiring.js';

/**
 * SIGTERM on a node process (issue 16): leave so that nothing a call bridge
 * sent is lost and a call bridge that reconnects elsewhere is routed at once.
 *
 *  1. A leader hands leadership to its most caught-up voter and waits until
 *     the new leader is known; a follower waits until a leader is known.
 *  2. No new connections: the component, federation and SSH listeners close.
 *  3. Only then are the call bridges told <system-shutdown/> (RFC 6120
 *     §4.9.3.19): they reconnect to another member, whose leader already
 *     routes; what they sent before reading it is still routed.
 *  4. Every stanza they sent is confirmed by the cluster (the router's origin
 *     buffer empties) and the confirmations owed to peers go out.
 *  5. Peer links close, then the rest (node.close and its data-directory lock).
 *
 * All of it within `timeoutMs`: past that, a line says which step was left
 * and with what, and the process exits anyway.
 */

export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;

/** The parts of a running node that leave in order; `close` ends whatever is left. */
export interface ShutdownParts {
  readonly node: XmppNode;
  readonly cluster: ClusterService;
  /** The node's cluster router (absent when a test gave the node another router). */
  readonly router: ClusterRouter | undefined;
  readonly ssh: MmpSshServer | null;
  readonly federation: RunningFederation;
  readonly log: Logger;
  close(): Promise<void>;
}

export interface ShutdownReport {
  /** Every step finished within the time. */
  readonly complete: boolean;
  /** The step that was running when time ran out. */
  readonly left?: string;
}

type Step = 'leadership' | 'listeners' | 'call bridges' | 'unconfirmed stanzas' | 'peer links';

export async function gracefulShutdown(parts: ShutdownParts, timeoutMs = DEFAULT_SHUTDOWN_TIMEOUT_MS): Promise<ShutdownReport> {
  const log = parts.log.child({ module: 'process' });
  const started = Date.now();
  const deadline = started + timeoutMs;
  const remaining = () => Math.max(1, deadline - Date.now());
  let step: Step = 'leadership';
  /** What the current step still waits for, for the timeout's line. */
  let waiting: Record<string, unknown> = {};
  log.info({ event: 'shutdown_started', timeoutMs, member: parts.cluster.isMember() }, 'shutting down');

  const steps = async (): Promise<void> => {
    // The wait for a successor gets at most half of the time: the call bridges and the flush need the rest.
    waiting = { leader: parts.cluster.leaderId() ?? 'none' };
    const handOff = await parts.cluster.handOffLeadership(Math.max(1, Math.floor(timeoutMs / 2)), log);
    if (handOff.was === 'leader') {
      if (handOff.to === undefined) log.info({ event: 'leadership_kept', leader: handOff.leader }, 'the only voter: no leader to hand over to');
      else if (handOff.leader && handOff.leader !== parts.node.identity.id) log.info({ event: 'leadership_transferred', to: handOff.to, leader: handOff.leader }, 'leadership transferred; the new leader is known');
      else log.warn({ event: 'leadership_transfer_unfinished', to: handOff.to }, 'no new leader known in time; the call bridges are sent away anyway');
    } else if (handOff.was === 'follower') {
      log.info({ event: 'leader_known', leader: handOff.leader || 'none' }, handOff.leader ? 'a leader is known' : 'no leader known in time');
    }

    step = 'listeners';
    waiting = {};
    // Federation streams end with <system-shutdown/> too: a remote server reconnects to another member.
    const closing = Promise.all([parts.ssh?.close(), parts.federation.close()]);
    const sessions = parts.node.status().sessions.length;
    // The component listeners close and the call bridges are told at once; a call bridge that
    // never closes its half must not leave the flush no time: it gets half of what is left.
    const bridgesGone = parts.node.shutdownService(Math.max(1, Math.floor(remaining() / 2)));
    log.info({ event: 'listeners_closed' }, 'no new connections: component, federation and SSH listeners closed');
    log.info({ event: 'callbridges_told', sessions }, 'call bridges told <system-shutdown/>');

    step = 'call bridges';
    waiting = { sessions };
    const stayed = await bridgesGone;
    log.info({ event: 'callbridges_shut_down', sessions, stayed }, stayed === 0 ? 'every call bridge closed its stream' : 'call bridges still connected; their connections are cut');
    await closing;

    step = 'unconfirmed stanzas';
    if (parts.router) {
      waiting = { stanzas: parts.router.unconfirmed().stanzas };
      const left = await parts.router.settle(remaining());
      log.info({ event: 'stanzas_flushed', unconfirmed: left }, left === 0 ? 'every stanza of this node\'s call bridges is confirmed' : 'stanzas still unconfirmed');
    }

    step = 'peer links';
    waiting = {};
    await parts.cluster.close();
    log.info({ event: 'peer_links_closed' }, 'cluster links closed');
    await parts.close();
  };

  let timer: NodeJS.Timeout | undefined;
  const outOfTime = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  const outcome = await Promise.race([steps().then(() => 'done' as const), outOfTime]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    const unconfirmed = parts.router?.unconfirmed().stanzas ?? 0;
    log.warn({ event: 'shutdown_timeout', timeoutMs, left: step, waiting, sessions: parts.node.status().sessions.length, unconfirmed }, `shutdown did not finish within ${timeoutMs} ms (left at: ${step}); exiting anyway`);
    return { complete: false, left: step };
  }
  log.info({ event: 'shutdown_complete', ms: Date.now() - started }, 'shut down');
  return { complete: true };
}
