import { request, type IncomingHttpHeaders } from 'node:http';

/** One HTTP exchange with headers both ways (the status page's login and cookies); no keep-alive. */
export interface HttpExchange {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export function httpRequest(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<HttpExchange> {
  return new Promise((resolve, reject) => {
    const body = options.body;
    const headers = { ...options.headers, ...(body === undefined ? {} : { 'Content-Length': String(Buffer.byteLength(body)) }) };
    const req = request(url, { method: options.method ?? 'GET', headers, agent: false, timeout: 15_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error(`${options.method ?? 'GET'} ${url}: no answer in 15 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** POST a login form as a browser does. */
export function postLogin(base: string, user: string, password: string, headers: Record<string, string> = {}): Promise<HttpExchange> {
  return httpRequest(`${base}/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ user, password }).toString(),
  });
}

/** `name=value` of a Set-Cookie header, for the next request's Cookie header. */
export function cookieOf(exchange: HttpExchange): string {
  const set = exchange.headers['set-cookie']?.[0];
  if (!set) throw new Error(`no Set-Cookie in the answer (${exchange.status})`);
  return set.split(';')[0]!;
}

/**
 * The first event of a server-sent event stream (`data:` lines joined), or
 * the HTTP status when the stream is refused; the connection is then closed.
 */
export function firstEvent(url: string, headers: Record<string, string> = {}): Promise<{ status: number; data?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { Accept: 'text/event-stream', ...headers }, agent: false, timeout: 15_000 }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return resolve({ status: res.statusCode ?? 0 });
      }
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        text += d;
        for (const block of text.split('\n\n').slice(0, -1)) {
          const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
          if (data.length === 0) continue;
          req.destroy();
          return resolve({ status: 200, data: data.join('\n') });
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no event in 15 s`)));
    req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
    req.end();
  });
}
