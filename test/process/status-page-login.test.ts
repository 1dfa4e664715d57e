import { rm } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoginGuard, DEFAULT_LOGIN_POLICY } from '../../src/mmp/ssh/login-guard.js';
import { startHttpEndpoint, type HttpEndpoint } from '../../src/process/http-endpoint.js';
import { startNode, type RunningNode } from '../../src/process/node-process.js';
import { StatusPage } from '../../src/process/status-page/status-page.js';
import { SESSION_COOKIE, WRONG_LOGIN } from '../../src/process/status-page/status-login.js';
import { ensureLoopbackAddress } from '../helpers/bind-server.js';
import { cookieOf, firstEvent, httpRequest, postLogin } from '../helpers/http-request.js';
import { LogCapture, tempDir } from '../helpers/test-node.js';

/**
 * One whole node (startNode) on 127.0.17.1 with its operations listener:
 * the status page refuses everything but its login form until an admin of
 * the MMP's user store logs in, refuses a wrong password, and hands out an
 * HttpOnly, SameSite=Strict session cookie that logout ends. A second
 * listener on 127.0.17.2 carries the same node's page with a quick
 * throttle (lockout after 3 failures) and a third on 127.0.17.3 the
 * loopback-only access without login.
 */

const ADDRESS = '127.0.17.1';
const PASSWORD = 'status-admin-password-0123';

let root: string;
let running: RunningNode;
let base: string;
const log = new LogCapture();
const extra: Array<{ page: StatusPage; http: HttpEndpoint }> = [];

beforeAll(async () => {
  for (const a of [ADDRESS, '127.0.17.2', '127.0.17.3']) await ensureLoopbackAddress(a);
  root = await tempDir('status-login-');
  running = await startNode({ dataDir: join(root, 'n1'), name: 'n1', address: ADDRESS, componentPorts: [0], log: log.logger, ssh: null, metrics: { host: ADDRESS, port: 0 } });
  await running.users.ensureInitialAdmin(PASSWORD);
  base = running.http!.url;
}, 60_000);

afterAll(async () => {
  for (const { page, http } of extra) {
    await http.close();
    page.close();
  }
  await running?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

async function pageOn(host: string, options: Partial<ConstructorParameters<typeof StatusPage>[0]>): Promise<string> {
  const page = new StatusPage({ access: 'login', node: running.node, users: running.users, totals: () => ({ routed: 0, forwarded: 0 }), log: log.logger, ...options });
  const http = await startHttpEndpoint({ host, port: 0, log: log.logger, routes: page.handle, handlers: { metrics: async () => ({ body: '', contentType: 'text/plain' }), healthz: () => ({ ok: true, reason: 'ok', details: {} }), readyz: () => ({ ok: true, reason: 'ok', details: {} }) } });
  extra.push({ page, http });
  return http.url;
}

describe('the status page without a login', () => {
  it('redirects the page to the login form and answers 401 for its data', async () => {
    const page = await httpRequest(`${base}/`);
    expect(page.status).toBe(303);
    expect(page.headers.location).toBe('login');
    expect((await httpRequest(`${base}/status.json`)).status).toBe(401);
    expect((await firstEvent(`${base}/events`)).status).toBe(401);
    const form = await httpRequest(`${base}/login`);
    expect(form.status).toBe(200);
    expect(form.body).toContain('<form class="login" method="post" action="login">');
    expect(form.body).toContain('type="password"');
    // Metrics and health stay where they were, without a login.
    expect((await httpRequest(`${base}/healthz`)).status).toBe(200);
  });

  it('refuses a wrong password (401, the form again, no cookie) and an unknown user the same way', async () => {
    for (const user of ['admin', 'nobody']) {
      const r = await postLogin(base, user, 'not-the-password');
      expect(r.status).toBe(401);
      expect(r.headers['set-cookie']).toBeUndefined();
      expect(r.body).toContain(WRONG_LOGIN);
    }
    expect(log.find('status_login_failed').map((l) => l.user)).toEqual(expect.arrayContaining(['admin', 'nobody']));
  });

  it('refuses a session cookie it did not issue', async () => {
    const r = await httpRequest(`${base}/status.json`, { headers: { Cookie: `${SESSION_COOKIE}=forged-token` } });
    expect(r.status).toBe(401);
  });

  it('refuses a login posted from another site (Origin)', async () => {
    const r = await postLogin(base, 'admin', PASSWORD, { Origin: 'http://evil.example' });
    expect(r.status).toBe(403);
    expect(r.headers['set-cookie']).toBeUndefined();
  });
});

describe('logging in with an admin account', () => {
  it('sets an HttpOnly, SameSite=Strict session cookie that opens the page, its JSON and its events, until logout', async () => {
    const login = await postLogin(base, 'admin', PASSWORD, { Origin: base });
    expect(login.status).toBe(303);
    expect(login.headers.location).toBe('./');
    const set = login.headers['set-cookie']![0]!;
    expect(set).toMatch(new RegExp(`^${SESSION_COOKIE}=[A-Za-z0-9_-]{43}; `));
    expect(set).toContain('HttpOnly');
    expect(set).toContain('SameSite=Strict');
    expect(set).toContain('Path=/');
    expect(set).toMatch(/Max-Age=\d+/);
    const cookie = cookieOf(login);
    const token = cookie.split('=')[1]!;

    const page = await httpRequest(`${base}/`, { headers: { Cookie: cookie } });
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'nonce-/);
    expect(page.body).toContain('<tbody id="members">');
    expect(page.body).toContain('<form method="post" action="logout">');
    // No external asset: no src= or href= anywhere in the page.
    expect(page.body).not.toMatch(/\s(src|href)=/);

    const json = await httpRequest(`${base}/status.json`, { headers: { Cookie: cookie } });
    expect(json.status).toBe(200);
    const snap = JSON.parse(json.body);
    expect(snap).toMatchObject({ node: 'n1', cluster: null, callbridges: [], federation: { rows: [], unanswered: [] } });
    expect(Array.isArray(snap.rate)).toBe(true);
    const event = await firstEvent(`${base}/events`, { Cookie: cookie });
    expect(event.status).toBe(200);
    expect(JSON.parse(event.data!)).toMatchObject({ node: 'n1' });

    const out = await httpRequest(`${base}/logout`, { method: 'POST', headers: { Cookie: cookie, Origin: base } });
    expect(out.status).toBe(303);
    expect(out.headers['set-cookie']![0]).toContain('Max-Age=0');
    expect((await httpRequest(`${base}/status.json`, { headers: { Cookie: cookie } })).status).toBe(401);
    expect((await httpRequest(`${base}/`, { headers: { Cookie: cookie } })).status).toBe(303);

    // Neither the password nor the token ever reached the log.
    const all = log.raw.join('');
    expect(all).not.toContain(PASSWORD);
    expect(all).not.toContain(token);
    expect(log.find('status_login')).toEqual([expect.objectContaining({ user: 'admin', address: expect.stringMatching(/^127\./) })]);
  });
});

describe('a logged-in page', () => {
  it('gets a logout event on its open event stream when its session ends, and the stream closes', async () => {
    const cookie = cookieOf(await postLogin(base, 'admin', PASSWORD));
    const events = await new Promise<{ text: string; ended: Promise<string> }>((resolve, reject) => {
      const req = request(`${base}/events`, { headers: { Cookie: cookie }, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        const ended = new Promise<string>((done) => res.on('end', () => done(text)));
        res.on('data', (d: string) => {
          const first = text === '' || !text.includes('data: ');
          text += d;
          if (first && text.includes('data: ')) resolve({ text, ended });
        });
      });
      req.on('error', reject);
      req.end();
    });
    expect(events.text).toContain('retry: 2000');
    await httpRequest(`${base}/logout`, { method: 'POST', headers: { Cookie: cookie } });
    expect(await events.ended).toMatch(/event: logout\ndata: session ended\n\n$/);
  });

  it("shows the federation streams of the view the node attaches, without their ids, with their idle time", async () => {
    const now = Date.now();
    running.status!.federationSurvey(async () => ({
      rows: [{ id: 's2s-7', node: 'n1', direction: 'outgoing', localDomain: 'example.test', remoteDomain: 'peer.example', peerAddress: '127.0.17.9:5269', tls: 'TLS 1.3', auth: 'sasl', lastActivity: now - 4000 }],
      unanswered: ['n2'],
    }));
    try {
      const cookie = cookieOf(await postLogin(base, 'admin', PASSWORD));
      const snap = JSON.parse((await httpRequest(`${base}/status.json`, { headers: { Cookie: cookie } })).body);
      expect(snap.federation.unanswered).toEqual(['n2']);
      expect(snap.federation.rows).toEqual([{ node: 'n1', direction: 'outgoing', localDomain: 'example.test', remoteDomain: 'peer.example', peerAddress: '127.0.17.9:5269', tls: 'TLS 1.3', auth: 'sasl', idleSeconds: expect.any(Number) }]);
      expect(snap.federation.rows[0].idleSeconds).toBeGreaterThanOrEqual(4);
    } finally {
      running.status!.federationSurvey(undefined);
    }
  });
});

describe('failed logins per address', () => {
  it('locks the address after the policy’s failures: even the right password is then refused with 429 and Retry-After', async () => {
    const url = await pageOn('127.0.17.2', { login: { guard: new LoginGuard({ ...DEFAULT_LOGIN_POLICY, maxFailures: 3, failureDelayMs: 1, maxFailureDelayMs: 5 }) } });
    for (let i = 0; i < 3; i++) expect((await postLogin(url, 'admin', `wrong-${i}-password`)).status).toBe(401);
    const locked = await postLogin(url, 'admin', PASSWORD);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expect(locked.headers['set-cookie']).toBeUndefined();
    expect(log.find('address-locked').length).toBeGreaterThanOrEqual(1);
  });
});

describe('loopback-only access (--status-page loopback)', () => {
  it('serves the page and its data to a loopback client without a login, and has no login form', async () => {
    const url = await pageOn('127.0.17.3', { access: 'loopback' });
    const page = await httpRequest(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<tbody id="members">');
    expect(page.body).not.toContain('action="logout"');
    expect(JSON.parse((await httpRequest(`${url}/status.json`)).body)).toMatchObject({ node: 'n1' });
    expect((await httpRequest(`${url}/login`)).status).toBe(303);
  });
});
