import type { SerialQueue } from '../base/serial-queue.js';
import type { FederationConfig, S2sStreamInfo } from '../s2s/server-streams.js';
import type { NodeConfiguration } from './configuration.js';
import type { FederationChange } from './federation-settings.js';

/**
 * What `xmpp federation ...` reaches on a node: its federation settings
 * (the configuration's: standalone or replicated), their changes, run one at
 * a time with the node's other settings, and the server streams open now,
 * from whatever view the process wiring attached (the federation service on
 * a standalone node; in a cluster, one that asks every member).
 */

/** One row of `xmpp federation connections`: a stream and the node that holds it. */
export interface FederationConnectionRow extends S2sStreamInfo {
  /** The node's name, as `xmpp cluster status` lists it. */
  readonly node: string;
}

/** Every row that could be gathered, and the nodes that did not answer in time (cluster-wide views only). */
export interface FederationSurvey {
  readonly rows: readonly FederationConnectionRow[];
  /** Names of members left out: each gets a `Warning:` line in the command's output. */
  readonly unanswered: readonly string[];
}

export interface FederationView {
  connections(): Promise<FederationConnectionRow[]>;
  /** A view that asks other nodes also says which did not answer; without it, every node answered. */
  survey?(): Promise<FederationSurvey>;
}

export class NodeFederation {
  private view: FederationView | undefined;

  constructor(
    private readonly config: () => NodeConfiguration,
    private readonly changes: SerialQueue,
  ) {}

  settings(): FederationConfig {
    return this.config().federation();
  }

  /** Resolves once durable (on disk, or committed and applied here); one OperatorError, changing nothing, when refused. */
  change(change: FederationChange): Promise<void> {
    return this.changes.run(() => this.config().changeFederation(change));
  }

  /** The process wiring attaches its view (undefined: none, as when no federation service runs). */
  attach(view: FederationView | undefined): void {
    this.view = view;
  }

  /** Without a view: no connections. */
  async survey(): Promise<FederationSurvey> {
    const view = this.view;
    if (!view) return { rows: [], unanswered: [] };
    if (view.survey) return view.survey();
    return { rows: await view.connections(), unanswered: [] };
  }
}
