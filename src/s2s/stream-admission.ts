import { FederationPolicy, refusedStreams, type StreamDirection } from './federation-policy.js';
import type { FederationConfig, S2sAuth } from './server-streams.js';

/**
 * Whether an open stream may stay up under the current settings
 * (federation.md, "Where we go further": a change applies live, and only
 * the streams it affects close). A stream is judged against the settings as
 * they are now, not against a diff: every open stream met the settings when
 * it was set up, so the streams that fail now are exactly those the change
 * affects, and a stream the change leaves valid is never touched.
 *
 * - federation off: every stream (reason policy);
 * - a remote domain the privacy mode and lists now refuse in the stream's
 *   direction (federation-policy.ts `refusedStreams`; an incoming stream is
 *   refused when any domain authorized on it is): reason policy;
 * - security mode `required` and a stream without TLS: reason security;
 * - client certificates required and a stream authenticated by dialback
 *   (its peer's certificate was not the proof): reason security.
 *
 * SASL EXTERNAL switches, static routes and the dialback secret close
 * nothing: they decide how the next stream is set up; an authenticated
 * stream stays authenticated.
 */

export interface AdmissionSubject {
  readonly direction: StreamDirection;
  /** Remote domains the stream carries: an outgoing stream's one, an incoming stream's authorized ones. */
  readonly domains: readonly string[];
  readonly tls: string | null;
  readonly auth: S2sAuth;
}

export type Refusal =
  | { readonly why: 'policy'; readonly domain: string; readonly text: string }
  | { readonly why: 'security'; readonly text: string };

export class StreamAdmission {
  private readonly policy: FederationPolicy;

  constructor(private readonly config: FederationConfig) {
    this.policy = new FederationPolicy(config);
  }

  /** Why the stream must close now, or undefined when it stays up. */
  refuses(stream: AdmissionSubject): Refusal | undefined {
    if (!this.config.enabled) return { why: 'policy', domain: stream.domains[0] ?? '', text: 'federation is disabled' };
    const rows = stream.domains.map((domain) => ({ domain, direction: stream.direction }));
    const refused = refusedStreams(this.policy, rows)[0];
    if (refused !== undefined) {
      const decision = this.policy.allows(refused.domain, refused.direction);
      return { why: 'policy', domain: refused.domain, text: decision.allowed ? 'refused' : decision.text };
    }
    if (this.config.securityMode === 'required' && stream.tls === null) {
      return { why: 'security', text: 'TLS is required and the stream has none' };
    }
    if (this.config.clientCertsRequired && stream.auth === 'dialback') {
      return { why: 'security', text: 'client certificates are required and the stream was authenticated by dialback' };
    }
    return undefined;
  }
}
