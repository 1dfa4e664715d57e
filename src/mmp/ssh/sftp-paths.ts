import { isSafeFileName } from '../../pki/certificate-folder.js';

/**
 * SFTP paths as the client sends them, mapped onto the certificate folder.
 * The client sees the folder as `/`; the only other paths are `/<name>` for
 * a plain file name. `..`, deeper paths (`/etc/passwd`) and names the MMP
 * would not accept are refused here, before any file system call.
 */

export type SftpTarget = { kind: 'root' } | { kind: 'file'; name: string };

export class SftpPathError extends Error {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(reason);
    this.name = 'SftpPathError';
  }
}

const MAX_PATH = 1024;

export function resolveSftpPath(path: string): SftpTarget {
  if (path.length > MAX_PATH || path.includes('\0')) throw new SftpPathError(path, 'path too long or not text');
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new SftpPathError(path, "'..' is not allowed: only the certificate folder is reachable");
  if (parts.length === 0) return { kind: 'root' };
  if (parts.length > 1) throw new SftpPathError(path, 'only the certificate folder is reachable (it has no sub-folders)');
  const name = parts[0]!;
  if (!isSafeFileName(name)) throw new SftpPathError(path, `'${name}' is not a plain file name (letters, digits, '.', '_' and '-'; not starting with '.')`);
  return { kind: 'file', name };
}

/** The path the client is shown for a target. */
export function sftpPathOf(target: SftpTarget): string {
  return target.kind === 'root' ? '/' : `/${target.name}`;
}
