import type { Logger } from '../observability/logger.js';
import type { StreamDirection } from './federation-policy.js';
import type { S2sCloseReason, S2sStreamInfo } from './server-streams.js';

/**
 * The federation event log (federation.md, "Event log"): JSON lines with an
 * `event` among the reference's names and the remote domain, the peer
 * address, the direction and the node. The logger is S2sEnvironment.log,
 * already bound to `module: "XMPPFederation"`, so the module is not repeated
 * (pino would write the key twice).
 *
 * Only names, addresses, conditions and counts are logged: the dialback
 * secret and keys never reach this file, and a stream error is logged by its
 * condition, not by anything the peer might have echoed of ours.
 */

/** `connection-closed` reasons: the reference's five, plus our own security and shutdown closes. */
export type ClosedReasonText = 'idle' | 'peer closed' | 'ping timeout' | 'policy' | 'security' | 'shutdown' | 'error';

export function closedReasonText(reason: S2sCloseReason): ClosedReasonText {
  switch (reason.by) {
    case 'peer':
      return 'peer closed';
    case 'socket':
      return 'error';
    case 'us':
      return reason.why === 'ping-timeout' ? 'ping timeout' : reason.why;
  }
}

export class FederationEvents {
  constructor(
    private readonly log: Logger,
    private readonly node: string,
  ) {}

  opened(stream: S2sStreamInfo): void {
    this.log.info(
      { event: 'connection-opened', ...this.fields(stream), tls: stream.tls, auth: stream.auth, streamId: stream.id },
      `federation connection ${stream.direction === 'outgoing' ? 'to' : 'from'} ${stream.remoteDomain} opened`,
    );
  }

  closed(stream: S2sStreamInfo, reason: S2sCloseReason, detail?: string): void {
    const text = closedReasonText(reason);
    const error = reason.by === 'peer' ? reason.error : reason.by === 'us' ? reason.error?.condition : reason.message;
    this.log.info(
      { event: 'connection-closed', ...this.fields(stream), reason: text, error, detail, streamId: stream.id },
      `federation connection ${stream.direction === 'outgoing' ? 'to' : 'from'} ${stream.remoteDomain} closed (${text})`,
    );
  }

  /** A stanza or a stream refused by the privacy mode and lists; `text` is the decision's (which entry, which direction). */
  policyRefused(domain: string, direction: StreamDirection, text: string, peer: string | null = null): void {
    this.log.info({ event: 'policy-refused', domain, peer, direction, node: this.node, text }, `federation with ${domain} refused: ${text}`);
  }

  peerUnresponsive(stream: S2sStreamInfo, silentMs: number): void {
    this.log.warn(
      { event: 'peer-unresponsive', ...this.fields(stream), silentMs, streamId: stream.id },
      `${stream.remoteDomain} did not answer a ping; its connection is replaced`,
    );
  }

  private fields(stream: S2sStreamInfo): { domain: string; peer: string; direction: StreamDirection; node: string; localDomain: string } {
    return { domain: stream.remoteDomain, peer: stream.peerAddress, direction: stream.direction, node: this.node, localDomain: stream.localDomain };
  }
}
