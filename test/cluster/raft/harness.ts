/**
 * A hand-driven cluster for unit and scenario tests (etcd raft_test.go's
 * `network`): every node runs the full Ready loop against MemoryStorage;
 * messages are delivered only when the test says so, through a filter that
 * can drop or inspect them.
 */
import { bootstrapStorage } from '../../../cluster/raft/bootstrap.js';
import type { RaftConfig } from '../../../cluster/raft/config.js';
import type { Entry, Message, NodeId, ReadState } from '../../../cluster/raft/messages.js';
import { Mulberry32, deriveSeed } from '../../../cluster/raft/prng.js';
import { RaftNode } from '../../../cluster/raft/raft-node.js';
import { MemoryStorage } from '../../../cluster/raft/storage/memory-storage.js';
import type { InvariantChecker } from './sim/checker.js';
import { SimStateMachine } from './sim/state-machine.js';

export interface HarnessOptions {
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  readonly electionTicks?: number;
  readonly seed?: number;
  /** Members that are not founders: they start with empty storage (to be added as learners). */
  readonly joiners?: readonly NodeId[];
  readonly createNode?: (config: RaftConfig) => RaftNode;
  readonly maxEntriesPerMessage?: number;
  /** Snapshots hold another state machine's bytes (e.g. ClusterState): do not restore the harness's own from them. */
  readonly foreignSnapshots?: boolean;
  /** Runs the simulator's invariant checks on every Ready and after every delivery. */
  readonly checker?: InvariantChecker;
}

export interface HarnessNode {
  node: RaftNode;
  readonly storage: MemoryStorage;
  readonly applied: Entry[];
  readonly readStates: ReadState[];
  sm: SimStateMachine;
}

export type MessageFilter = (m: Message) => boolean;

export class Harness {
  readonly nodes = new Map<NodeId, HarnessNode>();
  /** Messages sent but not yet delivered. */
  inbox: Message[] = [];
  private readonly cut = new Set<string>();

  constructor(
    founders: readonly NodeId[],
    private readonly options: HarnessOptions = {},
  ) {
    for (const id of founders) {
      const storage = new MemoryStorage();
      bootstrapStorage(storage, founders.map((f) => ({ id: f })));
      this.add(id, storage);
    }
    for (const id of options.joiners ?? []) this.add(id, new MemoryStorage());
    this.flushReadies();
  }

  private add(id: NodeId, storage: MemoryStorage): void {
    this.nodes.set(id, { node: this.createNode(id, storage), storage, applied: [], readStates: [], sm: new SimStateMachine() });
  }

  private createNode(id: NodeId, storage: MemoryStorage): RaftNode {
    const config: RaftConfig = {
      id,
      storage,
      random: new Mulberry32(deriveSeed(this.options.seed ?? 1, id)),
      electionTicks: this.options.electionTicks ?? 10,
      heartbeatTicks: 1,
      preVote: this.options.preVote ?? true,
      checkQuorum: this.options.checkQuorum ?? true,
      ...(this.options.maxEntriesPerMessage ? { maxEntriesPerMessage: this.options.maxEntriesPerMessage } : {}),
    };
    return this.options.createNode ? this.options.createNode(config) : new RaftNode(config);
  }

  get(id: NodeId): RaftNode {
    return this.nodes.get(id)!.node;
  }

  /** Restarts a node from its storage: everything in memory is gone. */
  restart(id: NodeId): void {
    const n = this.nodes.get(id)!;
    n.node = this.createNode(id, n.storage);
    n.applied.length = 0;
    n.sm = this.options.foreignSnapshots ? new SimStateMachine() : SimStateMachine.restore(n.storage.snapshot().data);
    this.inbox = this.inbox.filter((m) => m.to !== id && m.from !== id);
  }

  /** Runs every pending Ready: persist, queue messages, apply, advance. */
  flushReadies(): void {
    for (const [id, n] of this.nodes) {
      while (n.node.hasReady()) {
        const rd = n.node.ready();
        n.storage.save({ hardState: rd.hardState, entries: rd.entries, snapshot: rd.snapshot });
        this.options.checker?.onPersisted(id, rd.entries, (i) => n.node.termAt(i));
        for (const m of rd.messages) if (!this.cut.has(`${m.from}>${m.to}`)) this.inbox.push(m);
        if (rd.snapshot) {
          n.applied.length = 0;
          n.sm = this.options.foreignSnapshots ? new SimStateMachine() : SimStateMachine.restore(rd.snapshot.data);
        }
        n.applied.push(...rd.committedEntries);
        for (const e of rd.committedEntries) {
          n.sm.apply(e);
          this.options.checker?.onApplied(id, e, n.sm.digest);
        }
        n.readStates.push(...rd.readStates);
        n.node.advance(rd);
      }
    }
    this.options.checker?.afterStep([...this.nodes.values()].map((x) => x.node));
  }

  /** Takes and returns the pending messages, optionally only those matching. */
  drain(filter: MessageFilter = () => true): Message[] {
    this.flushReadies();
    const taken = this.inbox.filter(filter);
    this.inbox = this.inbox.filter((m) => !filter(m));
    return taken;
  }

  deliver(m: Message): void {
    const n = this.nodes.get(m.to);
    if (!n || this.cut.has(`${m.from}>${m.to}`)) return;
    n.node.step(m);
    this.flushReadies();
  }

  /** Delivers messages until none are left (or `rounds` passes), dropping those the filter rejects. */
  stabilize(keep: MessageFilter = () => true, rounds = 1000): void {
    for (let i = 0; i < rounds; i++) {
      const batch = this.drain();
      if (batch.length === 0) return;
      for (const m of batch) if (keep(m)) this.deliver(m);
    }
    throw new Error('harness did not stabilize');
  }

  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) this.get(id).tick();
    this.flushReadies();
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) for (const id of this.nodes.keys()) this.get(id).tick();
    this.flushReadies();
  }

  elect(id: NodeId): void {
    this.get(id).campaign();
    this.stabilize();
  }

  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}>${other}`);
      this.cut.add(`${other}>${id}`);
    }
  }

  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}>${to}`);
  }

  heal(): void {
    this.cut.clear();
  }

  leaders(): NodeId[] {
    return [...this.nodes.keys()].filter((id) => this.get(id).status().role === 'leader');
  }

  appliedData(id: NodeId): string[] {
    return this.nodes
      .get(id)!
      .applied.filter((e) => e.type === 'normal' && e.data.length > 0)
      .map((e) => new TextDecoder().decode(e.data));
  }
}
