/**
 * N Raft cores in one process on a simulated clock. Each node runs the real
 * Ready loop against MemoryStorage; a crash throws away the core (and with it
 * everything not yet persisted) and a restart builds a new one from storage.
 * Every event is followed by the invariant checker.
 */
import { bootstrapStorage } from '../../../../cluster/raft/bootstrap.js';
import type { RaftConfig } from '../../../../cluster/raft/config.js';
import { LogCompactedError, LogUnavailableError } from '../../../../cluster/raft/errors.js';
import { decodeMessage, encodeMessage } from '../../../../cluster/raft/message-codec.js';
import type { HardState, Message, NodeId, ReadState } from '../../../../cluster/raft/messages.js';
import { Mulberry32, deriveSeed, type RandomSource } from '../../../../cluster/raft/prng.js';
import { RaftNode } from '../../../../cluster/raft/raft-node.js';
import { MemoryStorage } from '../../../../cluster/raft/storage/memory-storage.js';
import type { RaftStorage } from '../../../../cluster/raft/storage/storage.js';
import { EventQueue } from './event-queue.js';
import { InvariantChecker, InvariantViolation } from './checker.js';
import { CALM, SimNetwork, type NetworkFaults } from './network.js';
import { SimStateMachine } from './state-machine.js';

/** Simulation time units per tick. */
export const TICK = 10;

export interface SimulationConfig {
  readonly seed: number;
  readonly founders: readonly NodeId[];
  /** Nodes that start empty, available to be added as learners. */
  readonly spares?: readonly NodeId[];
  readonly electionTicks?: number;
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  readonly faults?: NetworkFaults;
  /** Flow control: small values exercise the in-flight window and message batching. */
  readonly maxInflight?: number;
  readonly maxEntriesPerMessage?: number;
  /** Take a snapshot once this many applied entries sit in the log. */
  readonly snapshotEvery?: number;
  /** Negative controls: a broken core, or a host that persists the wrong hard state. */
  readonly createNode?: (config: RaftConfig) => RaftNode;
  readonly persistHardState?: (hs: HardState) => HardState;
  /**
   * Where each node keeps its log (default MemoryStorage, which a crash
   * does not touch). Called with fresh=true once per node at start, and with
   * fresh=false on every restart: a disk-backed storage reopens from its files.
   */
  readonly openStorage?: (id: NodeId, fresh: boolean, previous: RaftStorage | undefined) => RaftStorage;
  /** Send every message through the wire codec, as the cluster transport will. */
  readonly wireCodec?: boolean;
}

type SimEvent =
  | { kind: 'tick'; id: NodeId; incarnation: number }
  | { kind: 'ready'; id: NodeId; incarnation: number }
  | { kind: 'deliver'; message: Message }
  | { kind: 'call'; run: () => void };

export interface SimHost {
  readonly id: NodeId;
  storage: RaftStorage;
  node: RaftNode | undefined;
  sm: SimStateMachine;
  incarnation: number;
  readyPending: boolean;
}

export class Simulation {
  readonly random: RandomSource;
  readonly network: SimNetwork;
  readonly checker = new InvariantChecker();
  readonly hosts = new Map<NodeId, SimHost>();
  private readonly queue = new EventQueue<SimEvent>();
  now = 0;
  events = 0;
  snapshotsSent = 0;
  /** Each proposal a host applies, with its log index, fed to the client model. */
  onApply: (host: NodeId, proposal: string, index: number) => void = () => undefined;
  /** Each read point a host learns (ReadIndex answers). */
  onReadState: (host: NodeId, rs: ReadState) => void = () => undefined;
  private readonly trace: string[] = [];

  constructor(readonly config: SimulationConfig) {
    this.random = new Mulberry32(deriveSeed(config.seed, 'simulation'));
    this.network = new SimNetwork(new Mulberry32(deriveSeed(config.seed, 'network')), config.faults ?? CALM);
    const open = (id: NodeId) => (config.openStorage ? config.openStorage(id, true, undefined) : new MemoryStorage());
    for (const id of config.founders) {
      const storage = open(id);
      bootstrapStorage(storage, config.founders.map((f) => ({ id: f })));
      this.addHost(id, storage);
    }
    for (const id of config.spares ?? []) this.addHost(id, open(id));
  }

  private addHost(id: NodeId, storage: RaftStorage): void {
    const host: SimHost = { id, storage, node: undefined, sm: new SimStateMachine(), incarnation: 0, readyPending: false };
    this.hosts.set(id, host);
    this.start(host);
  }

  ids(): NodeId[] {
    return [...this.hosts.keys()];
  }

  liveNodes(): RaftNode[] {
    const out: RaftNode[] = [];
    for (const h of this.hosts.values()) if (h.node) out.push(h.node);
    return out;
  }

  note(line: string): void {
    this.trace.push(`t=${(this.now / TICK).toFixed(1)} ${line}`);
    if (this.trace.length > 40) this.trace.shift();
  }

  recentTrace(): string {
    return this.trace.join('\n');
  }

  // ---- node lifecycle ----------------------------------------------------

  private start(host: SimHost): void {
    host.incarnation++;
    const config: RaftConfig = {
      id: host.id,
      storage: host.storage,
      random: new Mulberry32(deriveSeed(this.config.seed, `${host.id}#${host.incarnation}`)),
      electionTicks: this.config.electionTicks ?? 10,
      heartbeatTicks: 1,
      preVote: this.config.preVote ?? true,
      checkQuorum: this.config.checkQuorum ?? true,
      ...(this.config.maxInflight ? { maxInflight: this.config.maxInflight } : {}),
      ...(this.config.maxEntriesPerMessage ? { maxEntriesPerMessage: this.config.maxEntriesPerMessage } : {}),
    };
    host.node = this.config.createNode ? this.config.createNode(config) : new RaftNode(config);
    // The state machine comes back from the snapshot; the log replays the rest.
    host.sm = SimStateMachine.restore(host.storage.snapshot().data);
    const snapIndex = host.storage.snapshot().metadata.index;
    if (snapIndex > 0) this.checker.onSnapshotRestored(host.id, snapIndex, host.sm.digest);
    host.readyPending = false;
    // Clocks are not in phase: each node ticks at its own offset.
    this.queue.push(this.now + 1 + this.random.int(TICK), { kind: 'tick', id: host.id, incarnation: host.incarnation });
    this.scheduleReady(host);
  }

  crash(id: NodeId): void {
    const host = this.hosts.get(id)!;
    if (!host.node) return;
    host.node = undefined;
    host.incarnation++;
    this.note(`crash ${id}`);
  }

  restart(id: NodeId): void {
    const host = this.hosts.get(id)!;
    if (host.node) return;
    if (this.config.openStorage) host.storage = this.config.openStorage(id, false, host.storage);
    this.start(host);
    this.note(`restart ${id}`);
  }

  isLive(id: NodeId): boolean {
    return this.hosts.get(id)?.node !== undefined;
  }

  node(id: NodeId): RaftNode | undefined {
    return this.hosts.get(id)?.node;
  }

  // ---- the event loop ----------------------------------------------------

  at(delay: number, run: () => void): void {
    this.queue.push(this.now + delay, { kind: 'call', run });
  }

  /** Runs events until `until` returns true or time passes `deadline`; returns whether `until` was met. */
  runUntil(deadline: number, until: () => boolean = () => false): boolean {
    for (;;) {
      if (until()) return true;
      const next = this.queue.pop();
      if (!next) return false;
      if (next.at > deadline) {
        this.queue.push(next.at, next.event);
        this.now = deadline;
        return until();
      }
      this.now = next.at;
      this.handle(next.event);
      this.events++;
      this.checker.afterStep(this.liveNodes());
    }
  }

  private handle(ev: SimEvent): void {
    try {
      this.dispatch(ev);
    } catch (err) {
      if (err instanceof InvariantViolation) throw err;
      // Keep where it was thrown: a core error in a long run is otherwise hard to place.
      const where = err instanceof Error ? (err.stack ?? '').split('\n').slice(1, 6).map((l) => l.trim()).join(' < ') : '';
      const msg = err instanceof Error ? `${err.name}: ${err.message} (${where})` : String(err);
      throw new InvariantViolation('core-error', msg);
    }
  }

  private dispatch(ev: SimEvent): void {
    switch (ev.kind) {
      case 'tick': {
        const host = this.hosts.get(ev.id)!;
        if (!host.node || host.incarnation !== ev.incarnation) return;
        host.node.tick();
        this.scheduleReady(host);
        this.queue.push(this.now + TICK, ev);
        return;
      }
      case 'deliver': {
        const host = this.hosts.get(ev.message.to);
        if (!host?.node) return;
        host.node.step(ev.message);
        this.scheduleReady(host);
        return;
      }
      case 'ready': {
        const host = this.hosts.get(ev.id)!;
        if (!host.node || host.incarnation !== ev.incarnation) return;
        host.readyPending = false;
        this.processReady(host, host.node);
        return;
      }
      case 'call':
        ev.run();
        return;
    }
  }

  /** Handling a Ready happens a little later than the input, so a crash can fall in between and lose it. */
  scheduleReady(host: SimHost): void {
    if (host.readyPending || !host.node) return;
    host.readyPending = true;
    this.queue.push(this.now + this.random.int(3), { kind: 'ready', id: host.id, incarnation: host.incarnation });
  }

  private processReady(host: SimHost, node: RaftNode): void {
    while (node.hasReady()) {
      const rd = node.ready();
      // 1. persist (the snapshot, then entries, then hard state).
      const persistHs = this.config.persistHardState;
      const hardState = rd.hardState && persistHs ? persistHs(rd.hardState) : rd.hardState;
      if (hardState) this.checker.onHardStatePersisted(host.id, host.storage.initialState().hardState, hardState);
      host.storage.save({ hardState, entries: rd.entries, snapshot: rd.snapshot });
      this.checker.onPersisted(host.id, rd.entries, (i) => safeTerm(host.storage, i));
      if (rd.softState) this.note(`${host.id} ${rd.softState.role} leader=${rd.softState.leader || '-'} term=${node.status().term}`);
      // 2. send, only now that what the messages promise is durable.
      for (const sent of rd.messages) {
        if (sent.type === 'snap') this.snapshotsSent++;
        const m = this.config.wireCodec ? decodeMessage(encodeMessage(sent)) : sent;
        for (const at of this.network.deliveryTimes(m, this.now)) this.queue.push(at, { kind: 'deliver', message: m });
      }
      // 3. apply.
      if (rd.snapshot) {
        host.sm = SimStateMachine.restore(rd.snapshot.data);
        this.checker.onSnapshotRestored(host.id, rd.snapshot.metadata.index, host.sm.digest);
      }
      for (const e of rd.committedEntries) {
        if (e.index !== host.sm.appliedIndex + 1) {
          throw new InvariantViolation('state-machine-safety', `${host.id} was given index ${e.index} to apply after ${host.sm.appliedIndex}`);
        }
        const known = e.type === 'normal' && e.data.length > 0 ? new TextDecoder().decode(e.data) : undefined;
        host.sm.apply(e);
        this.checker.onApplied(host.id, e, host.sm.digest);
        if (known !== undefined) this.onApply(host.id, known, e.index);
      }
      for (const rs of rd.readStates) this.onReadState(host.id, rs);
      node.advance(rd);
      this.maybeSnapshot(host, node);
    }
  }

  private maybeSnapshot(host: SimHost, node: RaftNode): void {
    const every = this.config.snapshotEvery ?? 0;
    if (every <= 0) return;
    const applied = host.sm.appliedIndex;
    if (applied - host.storage.firstIndex() + 1 < every) return;
    host.storage.createSnapshot(applied, node.confState(), host.sm.snapshot());
    // Keep a few entries so a slightly lagging follower still gets appends, not a snapshot.
    const keep = Math.max(host.storage.firstIndex(), applied - 5);
    host.storage.compact(keep);
  }

  // ---- observation -------------------------------------------------------

  /** The leader every live voter of its configuration follows, if there is exactly one. */
  stableLeader(): NodeId | undefined {
    const leaders = this.liveNodes().filter((n) => n.status().role === 'leader');
    if (leaders.length !== 1) return undefined;
    const leader = leaders[0]!.status();
    for (const id of leader.conf.voters) {
      const n = this.node(id);
      if (!n) continue;
      const st = n.status();
      if (st.leader !== leader.id || st.term !== leader.term) return undefined;
    }
    return leader.id;
  }
}

function safeTerm(storage: RaftStorage, index: number): number | undefined {
  try {
    return storage.term(index);
  } catch (err) {
    if (err instanceof LogCompactedError || err instanceof LogUnavailableError) return undefined;
    throw err;
  }
}
