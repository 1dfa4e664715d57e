import { readdir, lstat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The certificate folder is the only place operators put files (by SFTP) and
 * the only place commands read key and certificate files from. Every name an
 * operator types goes through here so that no path escapes the folder.
 */

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

/** Certificates, keys and bundles are a few KiB; anything above this is not one (and fills no disk). */
export const MAX_CERTIFICATE_FILE_BYTES = 1024 * 1024;

export class UnsafeFileNameError extends Error {
  constructor(readonly fileName: string) {
    super(`'${fileName}' is not a plain file name in the certificate folder (letters, digits, '.', '_' and '-'; no '/' or '..')`);
    this.name = 'UnsafeFileNameError';
  }
}

/** A plain file name: no separators, no leading dot, no '..'. */
export function isSafeFileName(name: string): boolean {
  return SAFE_NAME.test(name) && !name.includes('..');
}

/** The absolute path of `name` inside `folder`; throws UnsafeFileNameError otherwise. */
export function certificatePath(folder: string, name: string): string {
  if (!isSafeFileName(name)) throw new UnsafeFileNameError(name);
  return join(folder, name);
}

/** Regular files in the folder (symlinks and folders are not listed), sorted by name. */
export async function listCertificateFiles(folder: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(folder);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const files: string[] = [];
  for (const name of names) {
    if (!isSafeFileName(name)) continue;
    const st = await lstat(join(folder, name));
    if (st.isFile()) files.push(name);
  }
  return files.sort();
}
