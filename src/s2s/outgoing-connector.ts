import { createResolver } from '../dns/srv-lookup.js';
import type { AttemptOutcome } from './connect-failure.js';
import { AttemptFailure, OutgoingS2sStream } from './outgoing-stream.js';
import { peerAddresses } from './peer-addresses.js';
import { S2sConnectError, type OutgoingConnector, type S2sEnvironment } from './server-streams.js';

/**
 * Opens an authenticated outgoing stream to a remote domain: finds its
 * addresses (static routes first, never DNS for a routed domain; then SRV;
 * then A/AAAA on 5269: peer-addresses.ts), tries each in turn, and when none
 * gives a stream rejects with S2sConnectError holding one outcome per
 * address (connect-failure.ts turns them into the bounce).
 */

export interface OutgoingConnectorOptions {
  /** XEP-0220: how long to wait for the answer to our db:result; federation.md: 30 s. */
  dialbackTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Header, features, TLS and SASL on one address. */
  setupTimeoutMs?: number;
}

export function createOutgoingConnector(env: S2sEnvironment, options: OutgoingConnectorOptions = {}): OutgoingConnector {
  const timeouts = {
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    setupTimeoutMs: options.setupTimeoutMs ?? 30_000,
    dialbackTimeoutMs: options.dialbackTimeoutMs ?? 30_000,
  };
  return async ({ localDomain, remoteDomain }) => {
    const found = await peerAddresses(remoteDomain, { ...env.lookup, resolver: env.lookup?.resolver ?? createResolver(), routes: env.config().routes });
    if (found.addresses.length === 0) {
      throw new S2sConnectError(remoteDomain, [], `${remoteDomain}: ${found.failure?.message ?? 'no address'}`);
    }
    const outcomes: AttemptOutcome[] = [];
    const reasons: string[] = [];
    for (const address of found.addresses) {
      try {
        return await OutgoingS2sStream.open({ env, localDomain, remoteDomain, address, purpose: { kind: 'stream' }, timeouts });
      } catch (err) {
        if (!(err instanceof AttemptFailure)) throw err;
        outcomes.push(err.outcome);
        reasons.push(`${err.message} (${err.outcome})`);
      }
    }
    throw new S2sConnectError(remoteDomain, outcomes, `no stream to ${remoteDomain}: ${reasons.join('; ')}`);
  };
}
