/**
 * FileStorage on a real folder, beyond the behaviour every storage shares
 * (storage.test.ts runs that suite on files reopened after every write):
 * torn and corrupt tails are cut with a log line, a damaged snapshot stops
 * the node, crash leftovers are cleaned up, and a Raft cluster restarts from
 * its files.
 */
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bootstrapStorage } from '../../../cluster/raft/bootstrap.js';
import type { Entry, Message } from '../../../cluster/raft/messages.js';
import { Mulberry32 } from '../../../cluster/raft/prng.js';
import { RaftNode } from '../../../cluster/raft/raft-node.js';
import { CorruptLogError, FileStorage } from '../../../cluster/raft/storage/file-storage.js';
import { CorruptSnapshotError, SNAPSHOT_FILE } from '../../../cluster/raft/storage/snapshot-file.js';
import type { RaftStorage } from '../../../cluster/raft/storage/storage.js';
import { runChaos } from './sim/chaos.js';

const dirs: string[] = [];
function freshDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'raft-fs-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const e = (index: number, term: number, data = `e${index}`): Entry => ({ index, term, type: 'normal', data: enc(data) });

function segments(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.startsWith('wal-')).sort();
}

interface LogLine {
  event: string;
  fields: Record<string, unknown>;
}

function open(dir: string, lines: LogLine[] = [], segmentBytes?: number): FileStorage {
  return FileStorage.open({ dir, logger: (event, fields) => lines.push({ event, fields }), ...(segmentBytes ? { segmentBytes } : {}) });
}

describe('FileStorage', () => {
  it('rewrites the log into a fresh segment on compaction and drops the old one', () => {
    const dir = freshDir();
    const s = open(dir);
    s.save({ entries: [e(1, 1), e(2, 1), e(3, 1), e(4, 2)], hardState: { term: 2, vote: '', commit: 4 } });
    expect(segments(dir)).toEqual(['wal-0000000001.log']);
    s.createSnapshot(3, { voters: ['a'], learners: [] }, enc('state@3'));
    s.compact(3);
    s.save({ entries: [e(5, 2)] });
    expect(segments(dir)).toEqual(['wal-0000000002.log']);
    s.close();
    const r = open(dir);
    expect([r.firstIndex(), r.lastIndex()]).toEqual([4, 5]);
    r.close();
  });

  it('cuts a torn last record back to the last good one and logs it', () => {
    const dir = freshDir();
    const s = open(dir);
    s.save({ entries: [e(1, 1), e(2, 1)], hardState: { term: 1, vote: '', commit: 1 } });
    s.save({ entries: [e(3, 1)] });
    s.close();
    const seg = join(dir, segments(dir)[0]!);
    const full = statSync(seg).size;
    truncateSync(seg, full - 3);
    const lines: LogLine[] = [];
    const r = open(dir, lines);
    expect(r.lastIndex()).toBe(2);
    expect(lines).toEqual([{ event: 'wal-tail-truncated', fields: expect.objectContaining({ reason: 'torn', droppedBytes: expect.any(Number) }) }]);
    // The file itself was cut, and the storage keeps working after it.
    r.save({ entries: [e(3, 1, 'again')] });
    r.close();
    const again: LogLine[] = [];
    const r2 = open(dir, again);
    expect(again).toEqual([]);
    expect(dec(r2.entries(3, 4)[0]!.data)).toBe('again');
    r2.close();
  });

  it('detects a flipped bit in the last record by its checksum', () => {
    const dir = freshDir();
    const s = open(dir);
    s.save({ entries: [e(1, 1)] });
    s.save({ entries: [e(2, 1, 'damaged')] });
    s.close();
    const seg = join(dir, segments(dir)[0]!);
    const bytes = readFileSync(seg);
    bytes[bytes.length - 2] ^= 0x40;
    writeFileSync(seg, bytes);
    const lines: LogLine[] = [];
    const r = open(dir, lines);
    expect(r.lastIndex()).toBe(1);
    expect(lines[0]).toMatchObject({ event: 'wal-tail-truncated', fields: { reason: 'checksum' } });
    r.close();
  });

  it('cuts trailing garbage after the last record', () => {
    const dir = freshDir();
    const s = open(dir);
    s.save({ entries: [e(1, 1)] });
    s.close();
    appendFileSync(join(dir, segments(dir)[0]!), Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]));
    const lines: LogLine[] = [];
    const r = open(dir, lines);
    expect(r.lastIndex()).toBe(1);
    expect(lines).toHaveLength(1);
    r.close();
  });

  it('refuses to start on a corrupt snapshot', () => {
    const dir = freshDir();
    const s = open(dir);
    s.save({ entries: [e(1, 1), e(2, 1)], hardState: { term: 1, vote: '', commit: 2 } });
    s.createSnapshot(2, { voters: ['a'], learners: [] }, enc('precious'));
    s.close();
    const path = join(dir, SNAPSHOT_FILE);
    const bytes = readFileSync(path);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(path, bytes);
    expect(() => open(dir)).toThrow(CorruptSnapshotError);
    writeFileSync(path, Buffer.from('not a snapshot'));
    expect(() => open(dir)).toThrow(CorruptSnapshotError);
  });

  it('refuses to start on damage inside an older segment', () => {
    const dir = freshDir();
    const s = open(dir);
    s.save({ entries: [e(1, 1)] });
    s.close();
    // Two segments, the older damaged: not a torn tail, so cutting would lose acknowledged data.
    const first = join(dir, segments(dir)[0]!);
    writeFileSync(join(dir, 'wal-0000000009.log'), readFileSync(first));
    const bytes = readFileSync(first);
    bytes[10] ^= 0x01;
    writeFileSync(first, bytes);
    expect(() => open(dir)).toThrow(CorruptLogError);
  });

  it('rolls over to a new segment past the size limit and reads it back', () => {
    const dir = freshDir();
    const s = open(dir, [], 2048);
    for (let i = 1; i <= 60; i++) s.save({ entries: [e(i, 1, 'x'.repeat(100))], hardState: { term: 1, vote: '', commit: i } });
    expect(segments(dir).length).toBe(1);
    expect(segments(dir)[0]).not.toBe('wal-0000000001.log');
    s.close();
    const r = open(dir);
    expect([r.firstIndex(), r.lastIndex(), r.initialState().hardState.commit]).toEqual([1, 60, 60]);
    r.close();
  });

  it('recovers when a crash fell between writing a received snapshot and logging it', () => {
    const dir = freshDir();
    const s = open(dir);
    s.save({ entries: [e(1, 1), e(2, 1)], hardState: { term: 1, vote: '', commit: 1 } });
    s.close();
    // Write a newer snapshot the way save() would, then "crash" before the log record.
    const other = freshDir();
    const o = open(other);
    o.save({ entries: [e(1, 1), e(2, 1), e(3, 2), e(4, 2), e(5, 2)], hardState: { term: 2, vote: '', commit: 5 } });
    o.createSnapshot(5, { voters: ['a'], learners: [] }, enc('five'));
    o.close();
    writeFileSync(join(dir, SNAPSHOT_FILE), readFileSync(join(other, SNAPSHOT_FILE)));
    const r = open(dir);
    expect([r.firstIndex(), r.lastIndex(), r.initialState().hardState.commit]).toEqual([6, 5, 5]);
    r.close();
  });

  it('discards the temporary half of a write a crash interrupted', () => {
    const dir = freshDir();
    const s = open(dir);
    s.save({ entries: [e(1, 1)], hardState: { term: 1, vote: '', commit: 1 } });
    s.close();
    writeFileSync(join(dir, '.wal-0000000002.log.tmp'), 'half a checkpoint');
    writeFileSync(join(dir, '.snapshot.bin.tmp'), 'half a snapshot');
    const r = open(dir);
    expect(readdirSync(dir).sort()).toEqual(['format.json', 'wal-0000000001.log']);
    expect(r.lastIndex()).toBe(1);
    r.close();
  });

  it('writes every file readable by its owner only (the log holds secrets)', () => {
    const dir = freshDir();
    const s = open(dir);
    s.save({ entries: [e(1, 1)], hardState: { term: 1, vote: '', commit: 1 } });
    s.createSnapshot(1, { voters: ['a'], learners: [] }, enc('s'));
    s.close();
    for (const name of readdirSync(dir)) expect(statSync(join(dir, name)).mode & 0o777, name).toBe(0o600);
  });

  it('runs a 3-node cluster on files and restarts it from them', () => {
    const ids = ['a', 'b', 'c'];
    const folders = new Map(ids.map((id) => [id, freshDir()]));
    const applied = new Map<string, string[]>(ids.map((id) => [id, []]));
    let storages = new Map<string, FileStorage>();
    let nodes = new Map<string, RaftNode>();
    const start = (bootstrap: boolean) => {
      storages = new Map(ids.map((id) => [id, open(folders.get(id)!)]));
      if (bootstrap) for (const s of storages.values()) bootstrapStorage(s, ids.map((id) => ({ id })));
      nodes = new Map(ids.map((id, i) => [id, new RaftNode({ id, storage: storages.get(id)!, random: new Mulberry32(i + 1) })]));
      for (const id of ids) applied.set(id, []);
    };
    const pump = () => {
      for (let round = 0; round < 50; round++) {
        const out: Message[] = [];
        for (const [id, n] of nodes) {
          while (n.hasReady()) {
            const rd = n.ready();
            storages.get(id)!.save({ hardState: rd.hardState, entries: rd.entries, snapshot: rd.snapshot });
            out.push(...rd.messages);
            for (const x of rd.committedEntries) if (x.type === 'normal' && x.data.length > 0) applied.get(id)!.push(dec(x.data));
            n.advance(rd);
          }
        }
        if (out.length === 0) return;
        for (const m of out) nodes.get(m.to)!.step(m);
      }
    };
    start(true);
    nodes.get('a')!.campaign();
    pump();
    nodes.get('a')!.propose('one');
    nodes.get('b')!.propose('two');
    pump();
    for (const n of nodes.values()) n.tick();
    pump();
    for (const id of ids) expect(applied.get(id)).toEqual(['one', 'two']);
    for (const s of storages.values()) s.close();

    start(false);
    expect(nodes.get('a')!.status()).toMatchObject({ term: 2, vote: 'a' });
    pump();
    for (const id of ids) expect(applied.get(id)).toEqual(['one', 'two']);
    for (let i = 0; i < 25; i++) {
      for (const n of nodes.values()) n.tick();
      pump();
    }
    const leader = [...nodes.values()].find((n) => n.status().role === 'leader')!;
    leader.propose('three');
    pump();
    for (const n of nodes.values()) n.tick();
    pump();
    for (const id of ids) expect(applied.get(id)).toEqual(['one', 'two', 'three']);
    for (const s of storages.values()) s.close();
  });

  it('carries seeded chaos runs on real files: every crash reopens the node from its folder', () => {
    for (const seed of [1, 2, 3, 4]) {
      const root = freshDir();
      const reopened: string[] = [];
      const result = runChaos({
        seed,
        nodes: seed % 2 === 1 ? 3 : 5,
        chaosTicks: 250,
        // Storms crash a node every few ticks, so the runs reopen folders often.
        storm: seed !== 3,
        membership: seed === 3,
        openStorage: (id: string, fresh: boolean, previous: RaftStorage | undefined) => {
          (previous as FileStorage | undefined)?.close();
          if (!fresh) reopened.push(id);
          return FileStorage.open({ dir: join(root, id) });
        },
      });
      expect(result.ok, result.report).toBe(true);
      expect(reopened.length, 'the run must have restarted nodes from disk').toBeGreaterThan(0);
    }
  });
});
