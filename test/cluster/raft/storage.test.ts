/**
 * Every RaftStorage runs the one behaviour suite: in memory, on files as the
 * running node sees them, and on files opened again from the folder after
 * every write (what a restarted node sees).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStorage } from '../../../cluster/raft/storage/file-storage.js';
import { MemoryStorage } from '../../../cluster/raft/storage/memory-storage.js';
import type { RaftStorage } from '../../../cluster/raft/storage/storage.js';
import { storageBehaviour, type StorageFactory } from './storage-behaviour.js';

storageBehaviour('MemoryStorage', {
  create: () => new MemoryStorage(),
  // A simulated crash loses only the core: the storage object is what survives.
  restart: (s) => s,
  dispose: () => undefined,
});

function onFiles(reopen: boolean): StorageFactory {
  const folders = new WeakMap<RaftStorage, string>();
  return {
    create() {
      const dir = mkdtempSync(join(tmpdir(), 'raft-storage-'));
      const s = FileStorage.open({ dir });
      folders.set(s, dir);
      return s;
    },
    restart(s) {
      if (!reopen) return s;
      const dir = folders.get(s)!;
      (s as FileStorage).close();
      const again = FileStorage.open({ dir });
      folders.set(again, dir);
      return again;
    },
    dispose(s) {
      (s as FileStorage).close();
      rmSync(folders.get(s)!, { recursive: true, force: true });
    },
  };
}

storageBehaviour('FileStorage', onFiles(false));
storageBehaviour('FileStorage, reopened from its folder', onFiles(true));
