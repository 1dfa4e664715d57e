import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The few HTTP details the status page needs and node:http leaves to us:
 * cookies (RFC 6265 §4.2: `name=value; name2=value2`), a small form body
 * (application/x-www-form-urlencoded, as an HTML form posts it), and replies
 * that no cache or frame may keep.
 */

/** A login form is a user name and a password: anything longer is not one. */
export const MAX_FORM_BYTES = 4096;

export class FormTooLargeError extends Error {
  constructor() {
    super(`a form body over ${MAX_FORM_BYTES} bytes`);
    this.name = 'FormTooLargeError';
  }
}

export function cookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > MAX_FORM_BYTES) {
        req.removeAllListeners('data');
        req.resume();
        reject(new FormTooLargeError());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

/** All of 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/**
 * A POST must come from a page of this listener: a browser sends Origin on
 * every cross-site POST, and SameSite=Strict keeps the cookie off those
 * already; this also stops a foreign page from logging a browser in (login
 * CSRF). `Origin: null` (an opaque origin: a sandboxed frame, a data: page)
 * is refused. No Origin at all (curl, a script) is allowed.
 */
export function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

export interface PageHeaders {
  /** The nonce the page's one <style> and one <script> carry (Content-Security-Policy). */
  readonly nonce?: string;
  readonly extra?: Record<string, string | string[]>;
}

export function sendPage(res: ServerResponse, status: number, contentType: string, body: string, headers: PageHeaders = {}, headOnly = false): void {
  const csp = headers.nonce
    ? `default-src 'none'; script-src 'nonce-${headers.nonce}'; style-src 'nonce-${headers.nonce}'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`
    : "default-src 'none'; frame-ancestors 'none'";
  res.writeHead(status, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'Content-Security-Policy': csp,
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    // Not no-referrer: under it a browser sends `Origin: null` even on a same-origin form post, which sameOrigin() refuses.
    'Referrer-Policy': 'same-origin',
    ...headers.extra,
  });
  res.end(headOnly ? undefined : body);
}

export function redirect(res: ServerResponse, location: string, extra: Record<string, string | string[]> = {}): void {
  res.writeHead(303, { Location: location, 'Content-Length': 0, 'Cache-Control': 'no-store', ...extra });
  res.end();
}
