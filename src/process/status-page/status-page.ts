import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { UserStore } from '../../mmp/users.js';
import type { XmppNode } from '../../node/xmpp-node.js';
import type { Logger } from '../../observability/logger.js';
import { FormTooLargeError, isLoopbackAddress, readForm, redirect, sameOrigin, sendPage } from './http-form.js';
import { StanzaRate, type RateTotals } from './stanza-rate.js';
import { StatusFeed } from './status-feed.js';
import { loginPageHtml, statusPageHtml } from './status-html.js';
import { StatusLogin, tokenOf, type StatusLoginOptions } from './status-login.js';
import { statusSnapshot, type FederationSurveyLike } from './status-snapshot.js';

/**
 * The status page on the operations listener (README, "Status page"):
 * `GET /` the page, `GET /status.json` one snapshot, `GET /events` the
 * snapshots as server-sent events, `GET|POST /login`, `POST /logout`.
 *
 * Access `login` (the default): every route but the login form needs a
 * session from the MMP's admin accounts; the page redirects to the form,
 * the data routes answer 401. Access `loopback`: no login, and only clients
 * on a loopback address are answered (403 for others), for a listener kept
 * on 127.0.0.1 or reached through an SSH tunnel.
 */

export type StatusPageAccess = 'login' | 'loopback';

export interface StatusPageOptions {
  readonly access: StatusPageAccess;
  readonly node: XmppNode;
  readonly users: UserStore;
  /** The router's counters the chart is drawn from (read each sampleMs). */
  readonly totals: () => RateTotals;
  readonly log: Logger;
  readonly sampleMs?: number;
  readonly pushMs?: number;
  /** Overrides for the login throttle and sessions (tests). */
  readonly login?: Partial<Pick<StatusLoginOptions, 'guard' | 'sessions' | 'now'>>;
}

const ROUTES: Record<string, readonly string[]> = {
  '/': ['GET', 'HEAD'],
  '/status.json': ['GET', 'HEAD'],
  '/events': ['GET'],
  '/login': ['GET', 'HEAD', 'POST'],
  '/logout': ['POST'],
};

export class StatusPage {
  readonly login: StatusLogin;
  readonly rate = new StanzaRate();
  private readonly feed: StatusFeed;
  private readonly sampler: NodeJS.Timeout;
  private readonly log: Logger;
  private federation: (() => Promise<FederationSurveyLike>) | undefined;

  constructor(private readonly options: StatusPageOptions) {
    this.log = options.log.child({ module: 'status-page' });
    this.login = new StatusLogin({ users: options.users, log: this.log, ...options.login });
    this.feed = new StatusFeed(() => this.snapshot(), this.log, options.pushMs);
    this.rate.sample(Date.now(), options.totals());
    this.sampler = setInterval(() => this.rate.sample(Date.now(), options.totals()), options.sampleMs ?? 1000);
    this.sampler.unref();
  }

  /** Federation streams for the page (`node.federation.survey()`), once the node federates. */
  federationSurvey(source: (() => Promise<FederationSurveyLike>) | undefined): void {
    this.federation = source;
  }

  snapshot() {
    return statusSnapshot({ node: this.options.node, rate: () => this.rate.series(), federation: this.federation });
  }

  /** The listener's hook: true when the request was one of ours (answered), false to let the listener go on. */
  readonly handle = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> => {
    const methods = ROUTES[url.pathname];
    if (!methods) return false;
    const method = req.method ?? 'GET';
    if (!methods.includes(method)) {
      res.setHeader('Allow', methods.join(', '));
      sendPage(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
      return true;
    }
    if (this.options.access === 'loopback') await this.loopbackOnly(req, res, url.pathname);
    else await this.withLogin(req, res, url.pathname);
    return true;
  };

  close(): void {
    clearInterval(this.sampler);
    this.feed.close();
  }

  private async loopbackOnly(req: IncomingMessage, res: ServerResponse, route: string): Promise<void> {
    if (!isLoopbackAddress(req.socket.remoteAddress)) {
      return sendPage(res, 403, 'text/plain; charset=utf-8', 'the status page answers only clients on loopback here (an SSH tunnel, or --status-page login)\n');
    }
    if (route === '/login' || route === '/logout') return redirect(res, './');
    return this.serve(req, res, route, () => true, false);
  }

  private async withLogin(req: IncomingMessage, res: ServerResponse, route: string): Promise<void> {
    const nodeName = this.options.node.name;
    if (route === '/login' && req.method === 'POST') return this.postLogin(req, res);
    if (route === '/logout') {
      if (!sameOrigin(req)) return sendPage(res, 403, 'text/plain; charset=utf-8', 'cross-site request refused\n');
      return redirect(res, 'login', { 'Set-Cookie': this.login.logout(req) });
    }
    const user = this.login.user(req);
    if (route === '/login') {
      if (user) return redirect(res, './');
      const nonce = newNonce();
      return sendPage(res, 200, 'text/html; charset=utf-8', loginPageHtml({ nodeName, nonce }), { nonce }, req.method === 'HEAD');
    }
    if (!user) {
      if (route === '/') return redirect(res, 'login');
      return sendPage(res, 401, 'application/json', JSON.stringify({ error: 'log in first (POST /login)' }) + '\n');
    }
    // The stream outlives this request: it stays allowed only while the session does.
    const token = tokenOf(req);
    return this.serve(req, res, route, () => this.login.userOf(token) !== undefined, true);
  }

  private async serve(req: IncomingMessage, res: ServerResponse, route: string, allowed: () => boolean, logout: boolean): Promise<void> {
    const head = req.method === 'HEAD';
    if (route === '/events') return this.feed.subscribe(res, allowed);
    if (route === '/status.json') return sendPage(res, 200, 'application/json', JSON.stringify(await this.snapshot()) + '\n', {}, head);
    const nonce = newNonce();
    return sendPage(res, 200, 'text/html; charset=utf-8', statusPageHtml({ nodeName: this.options.node.name, nonce, logout }), { nonce }, head);
  }

  private async postLogin(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!sameOrigin(req)) return sendPage(res, 403, 'text/plain; charset=utf-8', 'cross-site login refused\n');
    let form: URLSearchParams;
    try {
      form = await readForm(req);
    } catch (err) {
      if (err instanceof FormTooLargeError) return sendPage(res, 413, 'text/plain; charset=utf-8', 'form too large\n', { extra: { Connection: 'close' } });
      throw err;
    }
    const user = form.get('user') ?? '';
    const outcome = await this.login.login(req.socket.remoteAddress ?? '', user, form.get('password') ?? '');
    if (outcome.ok) return redirect(res, './', { 'Set-Cookie': outcome.setCookie });
    const nonce = newNonce();
    const extra: Record<string, string> = outcome.retryAfterSeconds ? { 'Retry-After': String(outcome.retryAfterSeconds) } : {};
    sendPage(res, outcome.status, 'text/html; charset=utf-8', loginPageHtml({ nodeName: this.options.node.name, nonce, message: outcome.message, user }), { nonce, extra });
  }
}

function newNonce(): string {
  return randomBytes(16).toString('base64');
}
