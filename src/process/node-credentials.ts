import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { XmppNode } from '../node/xmpp-node.js';
import type { Logger } from '../observability/logger.js';
import { loadTlsCredentials, type TlsCredentials } from '../pki/credentials.js';

/**
 * The node's certificate as `xmpp certs` names it, kept loaded for the TLS
 * handshakes that need it at once (peer links, federation). It follows the
 * setting and the files: `xmpp certs` naming other files, or a renewed
 * certificate uploaded by SFTP over the same names, is picked up within a
 * refresh interval and used by every handshake from then on; links already
 * up keep the certificate they were set up with, as TLS does.
 */

/** Certificates change by operator action, rarely: a quarter second is soon enough and costs three stat calls. */
const REFRESH_MS = 250;

export class NodeCredentials {
  private loaded: TlsCredentials | null = null;
  private signature = '';
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;

  private constructor(
    private readonly node: XmppNode,
    private readonly log: Logger,
  ) {}

  /** Loads what the node names now, then follows it. */
  static async start(node: XmppNode, log: Logger): Promise<NodeCredentials> {
    const credentials = new NodeCredentials(node, log);
    await credentials.refresh();
    credentials.timer = setInterval(() => void credentials.refresh(), REFRESH_MS);
    credentials.timer.unref();
    return credentials;
  }

  /** null: no certificate set, or it cannot be used (the log says why). */
  current(): TlsCredentials | null {
    return this.loaded;
  }

  /** Reloads when the setting or a file's size or modification time changed. */
  refresh(): Promise<void> {
    this.refreshing ??= this.reload().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async reload(): Promise<void> {
    const certs = this.node.settings().certs;
    const files = certs ? [certs.key, certs.cert, ...(certs.bundle ? [certs.bundle] : [])] : [];
    const stamps = await Promise.all(
      files.map(async (f) => {
        try {
          const s = await stat(join(this.node.certFolder, f));
          return `${f}:${s.size}:${s.mtimeMs}`;
        } catch {
          return `${f}:missing`;
        }
      }),
    );
    const signature = stamps.join(' ');
    if (signature === this.signature) return;
    this.signature = signature;
    if (!certs) {
      this.loaded = null;
      return;
    }
    try {
      this.loaded = await loadTlsCredentials(this.node.certFolder, certs.key, certs.cert, certs.bundle ?? undefined);
      this.log.info({ module: 'node', event: 'certificates_loaded', files }, 'the node certificate is loaded for new TLS connections');
    } catch (err) {
      this.loaded = null;
      this.log.error({ module: 'node', event: 'certificates_unusable', files, reason: (err as Error).message }, 'the node certificate cannot be used');
    }
  }
}
