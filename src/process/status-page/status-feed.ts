import type { ServerResponse } from 'node:http';
import type { Logger } from '../../observability/logger.js';
import type { StatusSnapshot } from './status-snapshot.js';

/**
 * The page's updates as server-sent events (HTML Living Standard §9.2,
 * `text/event-stream`): one snapshot as soon as a page connects, then one a
 * second while any page is open, built once per tick for every page. Each
 * tick asks every stream whether it is still allowed (its login session
 * may have ended): one that is not gets a `logout` event and is closed, and
 * the page goes back to its login form.
 */

export const DEFAULT_PUSH_MS = 1000;
/** A page that stops reading is dropped before its backlog grows past this. */
const MAX_BACKLOG_BYTES = 1 << 20;

interface Subscriber {
  readonly res: ServerResponse;
  readonly allowed: () => boolean;
}

export class StatusFeed {
  private readonly subscribers = new Set<Subscriber>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly snapshot: () => Promise<StatusSnapshot>,
    private readonly log: Logger,
    private readonly pushMs = DEFAULT_PUSH_MS,
  ) {}

  get size(): number {
    return this.subscribers.size;
  }

  /** Takes over the response: the stream stays open until the page goes, its session ends, or close(). */
  subscribe(res: ServerResponse, allowed: () => boolean): void {
    if (this.closed) return void res.destroy();
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', Connection: 'keep-alive' });
    // EventSource reconnects after this many ms when the stream drops (a restart of the node).
    res.write('retry: 2000\n\n');
    const s: Subscriber = { res, allowed };
    this.subscribers.add(s);
    res.on('close', () => this.drop(s));
    void this.snapshot().then(
      (snap) => this.send(s, snap),
      (err: unknown) => this.log.debug({ event: 'status_snapshot_failed', err: (err as Error).message }, 'status snapshot failed'),
    );
    this.timer ??= setInterval(() => void this.tick(), this.pushMs);
  }

  close(): void {
    this.closed = true;
    this.stopTimer();
    for (const s of this.subscribers) s.res.end();
    this.subscribers.clear();
  }

  private async tick(): Promise<void> {
    for (const s of this.subscribers) {
      if (s.allowed()) continue;
      s.res.end('event: logout\ndata: session ended\n\n');
      this.drop(s);
    }
    if (this.subscribers.size === 0) return;
    let snap: StatusSnapshot;
    try {
      snap = await this.snapshot();
    } catch (err) {
      this.log.debug({ event: 'status_snapshot_failed', err: (err as Error).message }, 'status snapshot failed');
      return;
    }
    for (const s of this.subscribers) this.send(s, snap);
  }

  private send(s: Subscriber, snap: StatusSnapshot): void {
    if (!this.subscribers.has(s)) return;
    if (s.res.writableLength > MAX_BACKLOG_BYTES) {
      this.drop(s);
      return void s.res.destroy();
    }
    // JSON has no raw line ends, so one `data:` line carries the whole snapshot.
    s.res.write(`data: ${JSON.stringify(snap)}\n\n`);
  }

  private drop(s: Subscriber): void {
    this.subscribers.delete(s);
    if (this.subscribers.size === 0) this.stopTimer();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
