import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The floors of the tree (../shared/style.md, "Floors"): ground-floor helpers
 * at the bottom, protocols above them, the node above those, the MMP above
 * the node and the process wiring on top. Every import between two folders
 * must point to a lower floor, so that no folder needs one above it and no
 * two folders need each other. src/ protocols never import cluster/; only the
 * process wiring meets both.
 */

const FLOORS: Record<string, number> = {
  'src/base': 0,
  'src/observability': 0,
  'src/xmpp': 1,
  'cluster/raft': 1,
  'src/router': 2,
  'src/pki': 2,
  'cluster/state': 2,
  /** Below src/bridge: a call bridge finds its server by SRV. */
  'src/dns': 2,
  'src/component': 3,
  'src/bridge': 3,
  'src/s2s': 3,
  'cluster/transport': 3,
  'src/node': 4,
  'cluster/routing': 4,
  'cluster/member': 5,
  'src/mmp': 5,
  'src/process': 6,
  /** Files directly in src/: the command line. */
  src: 7,
};

/** Below this floor, src/ may not reach into cluster/. */
const WIRING_FLOOR = FLOORS['src/process']!;

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** The floor folder a file belongs to: `src/<folder>` or `cluster/<folder>`, or `src` for files at its top. */
function folderOf(file: string): string {
  const parts = file.split('/');
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

interface Edge {
  from: string;
  to: string;
}

function localImports(file: string): Edge[] {
  const info = ts.preProcessFile(readFileSync(join(ROOT, file), 'utf8'), true, true);
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((name) => name.startsWith('.'))
    .map((name) => ({ from: file, to: relative(ROOT, resolve(ROOT, dirname(file), name)).replace(/\.js$/, '.ts') }));
}

const files = [...sourceFiles('src'), ...sourceFiles('cluster')];
const edges = files.flatMap(localImports);

describe('the floors of the tree', () => {
  it('names a floor for every folder', () => {
    const unknown = [...new Set(files.map(folderOf))].filter((f) => FLOORS[f] === undefined);
    expect(unknown, 'add the new folder to FLOORS in test/floors.test.ts').toEqual([]);
  });

  it('has every import between folders point to a lower floor', () => {
    const upward = edges
      .filter((e) => folderOf(e.from) !== folderOf(e.to))
      .filter((e) => !((FLOORS[folderOf(e.to)] ?? Infinity) < (FLOORS[folderOf(e.from)] ?? -Infinity)))
      .map((e) => `${e.from} -> ${e.to}`);
    expect(upward).toEqual([]);
  });

  it('keeps cluster/ out of src/ below the process wiring', () => {
    const reaching = edges
      .filter((e) => e.from.startsWith('src/') && e.to.startsWith('cluster/') && (FLOORS[folderOf(e.from)] ?? 0) < WIRING_FLOOR)
      .map((e) => `${e.from} -> ${e.to}`);
    expect(reaching).toEqual([]);
  });

  it('resolves every relative import to a file of the tree', () => {
    const known = new Set(files);
    const broken = edges.filter((e) => !known.has(e.to)).map((e) => `${e.from} -> ${e.to}`);
    expect(broken).toEqual([]);
  });

  it('catches an upward import (the check itself works)', () => {
    const upward = localImports('src/process/node-process.ts').filter((e) => folderOf(e.to) === 'src/mmp');
    expect(upward.length).toBeGreaterThan(0);
    // The same edge read backwards, node/ importing process/, is what the check refuses.
    const reversed = upward.map((e) => ({ from: e.to, to: e.from }));
    const refused = reversed.filter((e) => !((FLOORS[folderOf(e.to)] ?? Infinity) < (FLOORS[folderOf(e.from)] ?? -Infinity)));
    expect(refused).toHaveLength(reversed.length);
  });
});
