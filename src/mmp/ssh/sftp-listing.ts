import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Attributes, FileEntry } from 'ssh2';
import { listCertificateFiles } from '../../pki/certificate-folder.js';

/** What SFTP clients are told about the folder's files: attributes and `ls -l` lines. */

interface StatLike {
  mode: number;
  size: number;
  uid: number;
  gid: number;
  atime: Date;
  mtime: Date;
}

export function attributes(st: StatLike): Attributes {
  return { mode: st.mode, size: st.size, uid: st.uid, gid: st.gid, atime: Math.floor(st.atime.getTime() / 1000), mtime: Math.floor(st.mtime.getTime() / 1000) };
}

export async function entries(folder: string, user: string): Promise<FileEntry[]> {
  const out: FileEntry[] = [];
  for (const name of await listCertificateFiles(folder)) {
    const st = await lstat(join(folder, name)).catch(() => undefined);
    if (!st?.isFile()) continue;
    out.push({ filename: name, longname: longName(name, st, user), attrs: attributes(st) });
  }
  return out;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The `ls -l` line sftp clients print for `ls -l`. */
function longName(name: string, st: StatLike, user: string): string {
  const bits = 'rwxrwxrwx'
    .split('')
    .map((c, i) => (st.mode & (0o400 >> i) ? c : '-'))
    .join('');
  const m = st.mtime;
  const date = `${MONTHS[m.getUTCMonth()]} ${String(m.getUTCDate()).padStart(2)} ${String(m.getUTCHours()).padStart(2, '0')}:${String(m.getUTCMinutes()).padStart(2, '0')}`;
  return `-${bits}    1 ${user.padEnd(8)} ${user.padEnd(8)} ${String(st.size).padStart(8)} ${date} ${name}`;
}
