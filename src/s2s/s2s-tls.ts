import { checkServerIdentity, connect as tlsConnect, createServer as createTlsServer, type PeerCertificate, type TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import type { S2sCredentials } from './server-streams.js';

/**
 * STARTTLS's TLS layer (RFC 6120 §5.4.3.3) over an already connected socket,
 * and the certificate check both sides make afterwards (RFC 6120 §13.7.2,
 * RFC 6125 §6.4, XEP-0178 §3). Verification is ours, not the TLS library's:
 * a certificate that does not verify still encrypts, and then dialback
 * authenticates (federation.md, "client certificates off"), so the
 * handshake never fails on it.
 */

export interface TlsResult {
  readonly socket: TLSSocket;
  /** `TLS 1.3`, `TLS 1.2`, as `xmpp federation connections` shows it. */
  readonly version: string;
}

/**
 * The receiving side, after it sent `<proceed/>`: asks for the peer's
 * certificate (for SASL EXTERNAL) but takes any. The socket is handed to a
 * one-connection tls.Server (its documented `emit('connection')` path)
 * rather than wrapped in `new TLSSocket({ isServer: true })`: only the
 * server path checks the client's chain and sets `authorized` (measured on
 * Node 20: the bare server-side TLSSocket reports false for a valid chain).
 */
export function serverTls(socket: Socket, credentials: S2sCredentials, timeoutMs: number): Promise<TlsResult> {
  const server = createTlsServer({
    requestCert: true,
    rejectUnauthorized: false,
    key: credentials.key,
    cert: credentials.cert,
    ...(credentials.ca ? { ca: credentials.ca } : {}),
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`the TLS handshake did not complete within ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    server.once('tlsClientError', fail);
    socket.once('close', () => fail(new Error('the connection closed during the TLS handshake')));
    server.once('secureConnection', (tls: TLSSocket) => {
      clearTimeout(timer);
      server.off('tlsClientError', fail);
      socket.removeAllListeners('close');
      resolve({ socket: tls, version: tlsVersion(tls) });
    });
    server.emit('connection', socket);
  });
}

/** The initiating side, after `<proceed/>`: our certificate as the client certificate, SNI the remote domain. */
export function clientTls(socket: Socket, credentials: S2sCredentials, servername: string, timeoutMs: number): Promise<TlsResult> {
  const tls = tlsConnect({
    socket,
    servername,
    key: credentials.key,
    cert: credentials.cert,
    ...(credentials.ca ? { ca: credentials.ca } : {}),
    rejectUnauthorized: false,
  });
  return handshake(tls, 'secureConnect', timeoutMs);
}

function handshake(tls: TLSSocket, event: 'secureConnect', timeoutMs: number): Promise<TlsResult> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`the TLS handshake did not complete within ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      tls.destroy();
      reject(err);
    };
    tls.once('error', fail);
    tls.once('close', () => fail(new Error('the connection closed during the TLS handshake')));
    tls.once(event, () => {
      clearTimeout(timer);
      tls.removeAllListeners('error');
      tls.removeAllListeners('close');
      resolve({ socket: tls, version: tlsVersion(tls) });
    });
  });
}

/** `TLSv1.3` → `TLS 1.3`. */
export function tlsVersion(tls: TLSSocket): string {
  const p = tls.getProtocol() ?? 'TLS';
  return p.replace(/^TLSv/, 'TLS ');
}

export interface CertificateCheck {
  /** Chains to our CA bundle (false when we trust none) and names `domain`. */
  readonly verified: boolean;
  /** Why not, for the event log. */
  readonly reason?: string;
}

/**
 * Does the peer's certificate chain to credentials.ca and name `domain` in a
 * subjectAltName dNSName (RFC 6125 §6.4; wildcards as it allows)? XEP-0178's
 * id-on-xmppAddr is not read: the peers we federate with put their domain in
 * a dNSName.
 */
export function checkPeerCertificate(tls: TLSSocket, domain: string, ca: string | null): CertificateCheck {
  if (ca === null) return { verified: false, reason: 'no CA bundle is configured' };
  const cert = tls.getPeerCertificate() as PeerCertificate | undefined;
  if (!cert || Object.keys(cert).length === 0) return { verified: false, reason: 'the peer presented no certificate' };
  if (!tls.authorized) return { verified: false, reason: `the certificate does not chain to the CA bundle (${String(tls.authorizationError)})` };
  if (!cert.subjectaltname) return { verified: false, reason: 'the certificate has no subjectAltName' };
  const mismatch = checkServerIdentity(domain, cert);
  if (mismatch) return { verified: false, reason: `the certificate does not name ${domain}` };
  return { verified: true };
}
