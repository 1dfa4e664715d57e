/**
 * Raft members on one MemoryNetwork, each on real FileStorage in its own
 * temporary folder, for tests of the member loop. Every member event and
 * every transport event marks the shared Condition as changed, so tests wait
 * for what they expect, never on a timer.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootstrapStorage } from '../../../cluster/raft/bootstrap.js';
import { FileStorage } from '../../../cluster/raft/storage/file-storage.js';
import { RaftMember, type RaftMemberOptions } from '../../../cluster/member/raft-member.js';
import { encodeMemberInfo } from '../../../cluster/state/member-info.js';
import { MemoryNetwork, type MemoryTransport } from '../../../cluster/transport/memory-transport.js';
import { Condition } from '../../helpers/condition.js';

export const WAIT_MS = 10_000;

export interface Running {
  readonly id: string;
  readonly dir: string;
  readonly transport: MemoryTransport;
  readonly member: RaftMember;
}

export function infoOf(n: number): string {
  return encodeMemberInfo({ name: `cb${n}`, cluster: `10.0.0.${n}:5999`, component: `10.0.0.${n}:5222` });
}

export class MemberHarness {
  readonly network = new MemoryNetwork();
  readonly condition = new Condition();
  readonly running = new Map<string, Running>();
  private readonly root = mkdtempSync(join(tmpdir(), 'raft-member-'));

  constructor(private readonly defaults: Partial<RaftMemberOptions> = {}) {}

  dirOf(n: number): string {
    return join(this.root, `n${n}`);
  }

  /** Member `n` (id `n<n>`, cluster endpoint 10.0.0.<n>:5999) on its folder; `bootstrap` seeds a one-member cluster. */
  async start(n: number, options: { bootstrap?: boolean } & Partial<RaftMemberOptions> = {}): Promise<RaftMember> {
    const id = `n${n}`;
    const dir = this.dirOf(n);
    if (options.bootstrap) {
      const storage = FileStorage.open({ dir });
      bootstrapStorage(storage, [{ id, context: infoOf(n) }]);
      storage.close();
    }
    const transport = this.network.transport({ id, name: `cb${n}`, endpoint: { host: `10.0.0.${n}`, port: 5999 } });
    for (const e of ['frame', 'linkUp', 'linkDown'] as const) transport.on(e, () => this.condition.changed());
    await transport.start();
    const member = new RaftMember({ tickMs: 5, ...this.defaults, ...options, id, transport, dir });
    for (const e of ['role', 'applied', 'membership', 'removed'] as const) member.on(e, () => this.condition.changed());
    member.start();
    this.running.set(id, { id, dir, transport, member });
    return member;
  }

  get(id: string): RaftMember {
    const r = this.running.get(id);
    if (!r) throw new Error(`${id} is not running`);
    return r.member;
  }

  /** A crash as peers see it: its links reset, its loop stops, its disk stays. */
  async crash(id: string): Promise<void> {
    const r = this.running.get(id);
    if (!r) return;
    this.running.delete(id);
    r.member.stop();
    await r.transport.close();
    this.condition.changed();
  }

  until(holds: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
    return this.condition.until(holds, timeoutMs, () => `timed out waiting for ${what}: ${this.describe()}`);
  }

  leaderOf(ids: readonly string[]): RaftMember | undefined {
    const leaders = ids.map((id) => this.running.get(id)?.member).filter((m) => m?.isLeader());
    return leaders.length === 1 ? leaders[0] : undefined;
  }

  async waitLeader(ids: readonly string[] = [...this.running.keys()]): Promise<RaftMember> {
    await this.until(() => {
      const l = this.leaderOf(ids);
      return l !== undefined && ids.every((id) => this.running.get(id)?.member.leader() === l.id);
    }, `one leader that ${ids.join(', ')} all follow`);
    return this.leaderOf(ids)!;
  }

  /** Adds member `n` through the leader as a learner, waits for catch-up, promotes it. */
  async add(n: number, options: Partial<RaftMemberOptions> = {}): Promise<RaftMember> {
    const member = await this.start(n, options);
    const leader = await this.waitLeader([...this.running.keys()].filter((id) => id !== member.id));
    await leader.changeMembership({ type: 'add-learner', node: member.id, context: infoOf(n) }, WAIT_MS);
    await leader.waitCaughtUp(member.id, WAIT_MS);
    await leader.changeMembership({ type: 'promote', node: member.id }, WAIT_MS);
    await this.until(() => member.conf().voters.includes(member.id), `${member.id} to apply its promotion`);
    return member;
  }

  describe(): string {
    return [...this.running.values()]
      .map(({ id, member }) => {
        const s = member.raftStatus();
        return `${id}: ${s.role} term ${s.term} leader ${s.leader || '-'} commit ${s.commit} applied ${s.applied} voters [${s.conf.voters}] learners [${s.conf.learners}]`;
      })
      .join('; ');
  }

  async close(): Promise<void> {
    for (const id of [...this.running.keys()]) await this.crash(id);
    rmSync(this.root, { recursive: true, force: true });
  }
}
