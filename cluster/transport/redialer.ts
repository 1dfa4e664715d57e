import type { Logger } from '../../src/observability/logger.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { formatEndpoint, type PeerEndpoint, type PeerHello, type PeerId, type TransportError } from './transport.js';

interface Redial {
  attempt: number;
  timer: NodeJS.Timeout | undefined;
  dialing: boolean;
  lastFailure: string | undefined;
}

export interface RedialerHooks {
  /** One connection attempt; resolves with the peer's hello once its link is up. */
  connect(endpoint: PeerEndpoint): Promise<PeerHello>;
  linked(id: PeerId): boolean;
}

/**
 * Keeps dialing the wanted members that have no link: at once, then with
 * jittered exponential backoff after each failure, until a link is up or the
 * member leaves the set. A failure is logged when its reason changes, not on
 * every retry.
 */
export class Redialer {
  private wanted = new Map<PeerId, PeerEndpoint>();
  private readonly state = new Map<PeerId, Redial>();
  private running = false;
  private stopped = false;

  constructor(
    private readonly backoff: BackoffOptions,
    private readonly hooks: RedialerHooks,
    private readonly log: Logger,
  ) {}

  /** Replaces the wanted set; returns the ids no longer in it. */
  want(peers: ReadonlyMap<PeerId, PeerEndpoint>): PeerId[] {
    const removed = [...this.wanted.keys()].filter((id) => !peers.has(id));
    this.wanted = new Map(peers);
    for (const id of removed) {
      clearTimeout(this.state.get(id)?.timer);
      this.state.delete(id);
    }
    for (const id of this.wanted.keys()) this.dialNow(id);
    return removed;
  }

  /** Dialing may begin (the listener is up, so our hello names a real port). */
  start(): void {
    this.running = true;
    for (const id of this.wanted.keys()) this.dialNow(id);
  }

  stop(): void {
    this.stopped = true;
    for (const s of this.state.values()) clearTimeout(s.timer);
    this.state.clear();
  }

  /** A link to `id` is up: the next loss starts the backoff afresh. */
  linkedUp(id: PeerId): void {
    const s = this.state.get(id);
    if (s) s.attempt = 0;
  }

  /** A link to `id` went down: redial it (after the first backoff step) if it is still wanted. */
  linkedDown(id: PeerId): void {
    if (this.state.has(id)) this.later(id);
    else this.dialNow(id);
  }

  private dialNow(id: PeerId): void {
    const endpoint = this.wanted.get(id);
    if (!this.running || this.stopped || !endpoint || this.hooks.linked(id)) return;
    let s = this.state.get(id);
    if (!s) this.state.set(id, (s = { attempt: 0, timer: undefined, dialing: false, lastFailure: undefined }));
    if (s.timer || s.dialing) return;
    s.dialing = true;
    const redial = s;
    this.hooks.connect(endpoint).then(
      (hello) => {
        redial.dialing = false;
        redial.lastFailure = undefined;
        if (hello.id === id) return;
        this.log.warn({ event: 'peer_id_mismatch', peer: id, endpoint: formatEndpoint(endpoint), answered: hello.id }, 'a member address answered with another id');
        this.later(id);
      },
      (err: TransportError) => {
        redial.dialing = false;
        if (err.message !== redial.lastFailure) {
          const level = err.code === 'unreachable' ? 'debug' : 'warn';
          this.log[level]({ event: 'dial_failed', peer: id, endpoint: formatEndpoint(endpoint), code: err.code, reason: err.message }, 'cannot link to a cluster member');
        }
        redial.lastFailure = err.message;
        this.later(id);
      },
    );
  }

  private later(id: PeerId): void {
    const s = this.state.get(id);
    if (this.stopped || !this.wanted.has(id) || !s || s.timer || s.dialing) return;
    s.timer = setTimeout(() => {
      s.timer = undefined;
      this.dialNow(id);
    }, backoffDelay(this.backoff, s.attempt++));
    s.timer.unref();
  }
}
