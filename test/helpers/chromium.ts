import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { untilAnswer } from './http-get.js';
import { tempDir } from './test-node.js';

/**
 * Headless Chromium (Debian's `chromium`) driven over the DevTools protocol
 * through --remote-debugging-pipe: JSON messages ended by NUL on fds 3 (to
 * the browser) and 4 (from it). The pipe listens on no port: Chromium's
 * --remote-debugging-port binds 127.0.0.1 whatever address it is given, and
 * tests listen only on their own addresses.
 */

export const CHROMIUM = '/usr/bin/chromium';

interface Pending {
  resolve(value: Record<string, unknown>): void;
  reject(err: Error): void;
  method: string;
}

export class Chromium {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(msg: { method: string; params: Record<string, unknown>; sessionId?: string }) => void>();
  private stderr = '';

  private constructor(
    private readonly child: ChildProcess,
    private readonly out: Writable,
    private readonly profile: string,
  ) {
    const input = child.stdio[4] as Readable;
    let buffer = '';
    input.setEncoding('utf8');
    input.on('data', (chunk: string) => {
      buffer += chunk;
      for (let end = buffer.indexOf('\0'); end !== -1; end = buffer.indexOf('\0')) {
        const msg = JSON.parse(buffer.slice(0, end));
        buffer = buffer.slice(end + 1);
        this.dispatch(msg);
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => (this.stderr = (this.stderr + d).slice(-8000)));
    child.on('exit', (code, signal) => {
      for (const p of this.pending.values()) p.reject(new Error(`chromium exited (${code ?? signal}) during ${p.method}: ${this.stderr.slice(-2000)}`));
      this.pending.clear();
    });
  }

  static async launch(): Promise<Chromium> {
    const profile = await tempDir('chromium-');
    const args = [
      '--headless=new',
      '--remote-debugging-pipe',
      `--user-data-dir=${profile}`,
      // Root (CI containers) cannot use Chromium's sandbox.
      '--no-sandbox',
      '--no-first-run',
      '--no-default-browser-check',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--window-size=1280,900',
      'about:blank',
    ];
    const child = spawn(CHROMIUM, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', reject);
    });
    const browser = new Chromium(child, child.stdio[3] as Writable, profile);
    await browser.send('Browser.getVersion');
    return browser;
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      this.out.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0');
    });
  }

  /** Resolves with the first event `method` (of the session) for which `matches` holds. */
  event(method: string, sessionId: string | undefined, matches: (params: Record<string, unknown>) => boolean = () => true, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`no ${method} from chromium in ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (msg: { method: string; params: Record<string, unknown>; sessionId?: string }) => {
        if (msg.method !== method || msg.sessionId !== sessionId || !matches(msg.params)) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(msg.params);
      };
      this.listeners.add(listener);
    });
  }

  async newPage(): Promise<ChromiumPage> {
    const { targetId } = (await this.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
    const { sessionId } = (await this.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    const page = new ChromiumPage(this, sessionId);
    await page.send('Page.enable');
    await page.send('Runtime.enable');
    return page;
  }

  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      await this.send('Browser.close').catch(() => undefined);
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await rm(this.profile, { recursive: true, force: true });
  }

  private dispatch(msg: { id?: number; result?: Record<string, unknown>; error?: { message: string }; method?: string; params?: Record<string, unknown>; sessionId?: string }): void {
    if (msg.id !== undefined) {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error) p.reject(new Error(`${p.method}: ${msg.error.message}`));
      else p.resolve(msg.result ?? {});
      return;
    }
    if (msg.method) for (const l of [...this.listeners]) l({ method: msg.method, params: msg.params ?? {}, ...(msg.sessionId ? { sessionId: msg.sessionId } : {}) });
  }
}

export class ChromiumPage {
  constructor(
    private readonly browser: Chromium,
    readonly sessionId: string,
  ) {}

  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return this.browser.send(method, params, this.sessionId);
  }

  /** Navigates and waits for the load event. */
  async navigate(url: string): Promise<void> {
    const loaded = this.browser.event('Page.loadEventFired', this.sessionId);
    const r = (await this.send('Page.navigate', { url })) as { errorText?: string };
    if (r.errorText) throw new Error(`navigate ${url}: ${r.errorText}`);
    await loaded;
  }

  /** Runs `expression` in the page (awaiting a promise) and returns its value, which must be JSON. */
  async evaluate<T>(expression: string): Promise<T> {
    const r = (await this.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true })) as {
      result: { value?: T };
      exceptionDetails?: { text: string; exception?: { description?: string } };
    };
    if (r.exceptionDetails) throw new Error(`in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  /** Asks the page again (bounded) until `holds`: the page changes on the server's events, which the test cannot see. */
  until<T>(expression: string, holds: (value: T) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
    return untilAnswer(() => this.evaluate<T>(expression), holds, timeoutMs, what);
  }

  /** Runs `expression` (a click that posts a form) and waits for the page it loads. */
  async loadAfter(expression: string): Promise<void> {
    const loaded = this.browser.event('Page.loadEventFired', this.sessionId);
    try {
      await this.evaluate(expression);
    } catch (err) {
      loaded.catch(() => undefined);
      throw err;
    }
    await loaded;
  }

  async screenshot(): Promise<Buffer> {
    const { data } = (await this.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true })) as { data: string };
    return Buffer.from(data, 'base64');
  }
}
