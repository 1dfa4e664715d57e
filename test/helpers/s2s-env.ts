import { readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/observability/logger.js';
import type { Stanza } from '../../src/router/router.js';
import type { FederationConfig, IncomingHooks, IncomingStream, S2sCloseReason, S2sCredentials, S2sEnvironment } from '../../src/s2s/server-streams.js';
import { Condition } from './condition.js';
import type { FederationCa, ServerCertificate } from './federation-pki.js';

/**
 * A server-to-server environment for protocol tests: settings a test can
 * change between streams (env.config() is read for every decision), our
 * certificate, and a log captured line by line, so that a test can wait for
 * an event and assert that no key ever reached the log.
 */

export interface TestS2sEnv extends S2sEnvironment {
  settings: FederationConfig;
  creds: S2sCredentials | null;
  /** Every JSON log line written so far. */
  lines: string[];
  logText(): string;
  events(): Array<Record<string, unknown>>;
  waitForEvent(event: string, timeoutMs?: number): Promise<Record<string, unknown>>;
}

export const DEFAULT_SETTINGS: FederationConfig = {
  enabled: true,
  dialbackSecret: 'a-test-dialback-secret',
  securityMode: 'optional',
  clientCertsRequired: false,
  saslExternal: { incoming: true, outgoing: true },
  privacyMode: 'off',
  allow: [],
  deny: [],
  routes: [],
};

export function testS2sEnv(domain: string, settings: Partial<FederationConfig> = {}, creds: S2sCredentials | null = null): TestS2sEnv {
  const lines: string[] = [];
  const logged = new Condition();
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(l);
      logged.changed();
      done();
    },
  });
  const log = createLogger({ level: 'debug', destination }).child({ module: 'XMPPFederation' });
  const env: TestS2sEnv = {
    settings: { ...DEFAULT_SETTINGS, ...settings },
    creds,
    config: () => env.settings,
    credentials: () => env.creds,
    domain: () => domain,
    nodeName: `node-${domain}`,
    log,
    lines,
    logText: () => lines.join('\n'),
    events: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => typeof l.event === 'string'),
    waitForEvent: async (event, timeoutMs = 10_000) => {
      const find = () => env.events().find((e) => e.event === event);
      await logged.until(() => find() !== undefined, timeoutMs, () => `no ${event} event; log:\n${lines.join('\n').slice(-4000)}`);
      return find()!;
    },
  };
  return env;
}

/** Our certificate as S2sCredentials, trusting `trust` (null: no CA bundle). */
export async function credentialsFrom(cert: ServerCertificate, trust: FederationCa | null): Promise<S2sCredentials> {
  return {
    key: await readFile(cert.keyFile, 'utf8'),
    cert: await readFile(cert.certFile, 'utf8'),
    ca: trust ? await readFile(trust.certFile, 'utf8') : null,
  };
}

/** IncomingHooks that record what the listener reports, for tests to wait on. */
export class RecordingHooks implements IncomingHooks {
  readonly stanzas: Array<{ stanza: Stanza; stream: IncomingStream }> = [];
  readonly authorizations: Array<{ stream: IncomingStream; domain: string }> = [];
  readonly closes: Array<{ stream: IncomingStream; reason: S2sCloseReason }> = [];
  private readonly changed = new Condition();

  authorized(stream: IncomingStream, domain: string): void {
    this.authorizations.push({ stream, domain });
    this.changed.changed();
  }

  stanza(stanza: Stanza, stream: IncomingStream): void {
    this.stanzas.push({ stanza, stream });
    this.changed.changed();
  }

  closed(stream: IncomingStream, reason: S2sCloseReason): void {
    this.closes.push({ stream, reason });
    this.changed.changed();
  }

  async waitFor(holds: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    await this.changed.until(holds, timeoutMs, () => `timed out waiting for ${what}; stanzas: ${this.stanzas.length}, authorized: ${this.authorizations.map((a) => a.domain).join(',')}`);
  }

  async waitForStanza(pattern: RegExp, timeoutMs = 15_000): Promise<{ stanza: Stanza; stream: IncomingStream }> {
    const find = () => this.stanzas.find((s) => pattern.test(s.stanza.raw));
    await this.waitFor(() => find() !== undefined, `a stanza matching ${pattern}`, timeoutMs);
    return find()!;
  }
}
