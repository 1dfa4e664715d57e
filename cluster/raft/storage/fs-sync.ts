/** Durability primitives for the file storage (synchronous: the Ready loop persists before it sends). */
import { closeSync, fsyncSync, openSync } from 'node:fs';

/** Makes a rename or unlink in `dir` durable (POSIX: the folder entry is data too). */
export function syncDirectorySync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
