import { createResolver } from '../dns/srv-lookup.js';
import { FederationPolicy } from './federation-policy.js';
import type { DialbackCheck } from './incoming-stream.js';
import { AttemptFailure, OutgoingS2sStream } from './outgoing-stream.js';
import { peerAddresses } from './peer-addresses.js';
import { s2sEvent } from './s2s-events.js';
import type { S2sEnvironment } from './server-streams.js';

/**
 * The receiving server's half of dialback (XEP-0220 §2.1.2-§2.1.3): for a
 * `db:result` from O, open a stream to O's authoritative server (found as
 * any outgoing stream is: static routes, SRV, A/AAAA; STARTTLS by the same
 * rules), send `db:verify` with the key and our stream id, take its type,
 * close. A separate connection used for this only (XEP-0220 §2.1.2 note),
 * so no state is shared with outgoing streams. Every failure is `invalid`:
 * an unverifiable key authorizes nothing.
 */

export interface DialbackVerifierOptions {
  /** The whole check, from lookup to answer; federation.md: 30 s. */
  timeoutMs?: number;
  connectTimeoutMs?: number;
}

export function createDialbackVerifier(env: S2sEnvironment, options: DialbackVerifierOptions = {}): DialbackCheck {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  return async ({ receiving, originating, streamId, key, peer }) => {
    const fields = { domain: originating, peer, direction: 'incoming' as const };
    // The check serves an incoming stream, so it is asked as incoming (federation-policy.ts).
    if (!new FederationPolicy(env.config()).allows(originating, 'incoming').allowed) return 'invalid';
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const check = (async (): Promise<'valid' | 'invalid'> => {
      const found = await peerAddresses(originating, { ...env.lookup, resolver: env.lookup?.resolver ?? createResolver(), routes: env.config().routes });
      for (const address of found.addresses) {
        try {
          return await OutgoingS2sStream.verify({
            env,
            localDomain: receiving,
            remoteDomain: originating,
            address,
            purpose: { kind: 'verify', streamId, key },
            timeouts: { connectTimeoutMs, setupTimeoutMs: timeoutMs, dialbackTimeoutMs: timeoutMs },
          });
        } catch (err) {
          if (!(err instanceof AttemptFailure)) throw err;
          env.log.debug({ module: 'XMPPFederation', domain: originating, outcome: err.outcome, reason: err.message }, 'authoritative server address failed');
        }
      }
      return 'invalid';
    })().catch(() => 'invalid' as const);
    const result = await Promise.race([check, timedOut]);
    clearTimeout(timer);
    if (result === 'timeout') {
      s2sEvent(env, 'dialback-timeout', fields, `the authoritative server of ${originating} did not answer within ${timeoutMs} ms`);
      return 'invalid';
    }
    return result;
  };
}
