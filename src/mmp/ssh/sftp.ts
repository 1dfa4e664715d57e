import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, lstat, open, rename, stat, unlink, utimes, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import ssh2, { type Attributes, type FileEntry, type SFTPWrapper } from 'ssh2';
import { attributes, entries } from './sftp-listing.js';
import type { Logger } from '../../observability/logger.js';
import { MAX_CERTIFICATE_FILE_BYTES, listCertificateFiles } from '../../pki/certificate-folder.js';
import { syncDirectory } from '../../base/atomic-file.js';
import { SftpPathError, resolveSftpPath, sftpPathOf } from './sftp-paths.js';

/**
 * The SFTP subsystem: the certificate folder and nothing else (seed: "Upload
 * the certificates by WinSCP/SFTP", then `pki list`). Uploads go to a hidden
 * temporary file and are renamed into place on CLOSE, so an interrupted
 * upload never leaves half a certificate under the real name; the size limit
 * is enforced on every WRITE, before the data reaches the disk.
 */

const { STATUS_CODE, OPEN_MODE } = ssh2.utils.sftp;

export interface SftpOptions {
  folder: string;
  user: string;
  address: string;
  logger: Logger;
  maxFileBytes?: number;
  maxFiles?: number;
}

type OpenHandle =
  | { kind: 'dir'; entries?: FileEntry[] }
  | { kind: 'read'; file: FileHandle; name: string }
  | { kind: 'write'; file: FileHandle; name: string; temp: string; size: number; failed?: string; times?: { atime: number; mtime: number } };

const MAX_HANDLES = 32;
const MAX_READ = 64 * 1024;
const DIR_BATCH = 100;

class SftpRefusal extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export function serveSftp(sftp: SFTPWrapper, options: SftpOptions): void {
  const { folder, logger } = options;
  const maxFileBytes = options.maxFileBytes ?? MAX_CERTIFICATE_FILE_BYTES;
  const maxFiles = options.maxFiles ?? 1000;
  const handles = new Map<string, OpenHandle>();
  // Requests on one handle run in order (a CLOSE waits for earlier WRITEs).
  const chains = new Map<string, Promise<void>>();
  let nextHandle = 0;

  const log = (fields: Record<string, unknown>, msg: string) => logger.info({ user: options.user, address: options.address, ...fields }, msg);

  /** Runs a request and answers it: a refusal becomes its status, anything else FAILURE. */
  const answer = (reqid: number, op: string, path: string | undefined, fn: () => Promise<void>, key?: string) => {
    const run = async () => {
      try {
        await fn();
      } catch (err) {
        if (err instanceof SftpPathError || err instanceof SftpRefusal) {
          const code = err instanceof SftpRefusal ? err.code : STATUS_CODE.PERMISSION_DENIED;
          logger.warn({ event: 'sftp-refused', user: options.user, address: options.address, op, path: path?.slice(0, 200), reason: err.message }, 'SFTP request refused');
          sftp.status(reqid, code, err.message);
        } else {
          logger.warn({ event: 'sftp-error', user: options.user, op, err: (err as Error).message }, 'SFTP request failed');
          sftp.status(reqid, STATUS_CODE.FAILURE, (err as Error).message);
        }
      }
    };
    if (key === undefined) {
      void run();
      return;
    }
    const chained = (chains.get(key) ?? Promise.resolve()).then(run);
    chains.set(key, chained);
  };

  const handleOf = (buf: Buffer): [string, OpenHandle] => {
    const key = buf.toString('hex');
    const h = handles.get(key);
    if (!h) throw new SftpRefusal(STATUS_CODE.FAILURE, 'invalid handle');
    return [key, h];
  };

  const newHandle = (reqid: number, h: OpenHandle) => {
    const buf = Buffer.alloc(4);
    buf.writeUInt32BE(nextHandle++ >>> 0);
    handles.set(buf.toString('hex'), h);
    sftp.handle(reqid, buf);
  };

  const fileTarget = (path: string): string => {
    const target = resolveSftpPath(path);
    if (target.kind === 'root') throw new SftpRefusal(STATUS_CODE.FAILURE, 'that is the certificate folder, not a file');
    return target.name;
  };

  /** lstat of a name in the folder: undefined when absent; symlinks and folders are refused. */
  const plainFile = async (name: string) => {
    try {
      const st = await lstat(join(folder, name));
      if (!st.isFile()) throw new SftpRefusal(STATUS_CODE.PERMISSION_DENIED, `${name} is not a plain file (links and folders are not served)`);
      return st;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  };

  sftp.on('OPEN', (reqid: number, path: string, flags: number) =>
    answer(reqid, 'open', path, async () => {
      if (handles.size >= MAX_HANDLES) throw new SftpRefusal(STATUS_CODE.FAILURE, 'too many open files');
      const name = fileTarget(path);
      const reading = (flags & OPEN_MODE.READ) !== 0;
      const writing = (flags & OPEN_MODE.WRITE) !== 0;
      if (reading && writing) throw new SftpRefusal(STATUS_CODE.OP_UNSUPPORTED, 'open a file for reading or for writing, not both');
      if (flags & OPEN_MODE.APPEND) throw new SftpRefusal(STATUS_CODE.OP_UNSUPPORTED, 'appending is not supported; upload the whole file');
      const existing = await plainFile(name);
      if (!writing) {
        if (!existing) throw new SftpRefusal(STATUS_CODE.NO_SUCH_FILE, `no file named ${name}`);
        // O_NOFOLLOW closes the gap between lstat and open.
        const file = await open(join(folder, name), constants.O_RDONLY | constants.O_NOFOLLOW);
        newHandle(reqid, { kind: 'read', file, name });
        return;
      }
      if (!existing && !(flags & OPEN_MODE.CREAT)) throw new SftpRefusal(STATUS_CODE.NO_SUCH_FILE, `no file named ${name}`);
      if (existing && flags & OPEN_MODE.EXCL) throw new SftpRefusal(STATUS_CODE.FAILURE, `${name} already exists`);
      if (!existing && (await listCertificateFiles(folder)).length >= maxFiles) throw new SftpRefusal(STATUS_CODE.FAILURE, `the certificate folder is full (${maxFiles} files); remove some first`);
      const temp = join(folder, `.${name}.${randomBytes(6).toString('hex')}.upload`);
      // Without TRUNC the client may rewrite part of the file (resumed upload): start from its content.
      if (existing && !(flags & OPEN_MODE.TRUNC)) await copyFile(join(folder, name), temp, constants.COPYFILE_EXCL);
      const file = await open(temp, existing && !(flags & OPEN_MODE.TRUNC) ? 'r+' : 'wx', 0o600);
      await file.chmod(0o600);
      newHandle(reqid, { kind: 'write', file, name, temp, size: existing && !(flags & OPEN_MODE.TRUNC) ? existing.size : 0 });
    }),
  );

  sftp.on('WRITE', (reqid: number, handle: Buffer, offset: number, data: Buffer) =>
    answer(
      reqid,
      'write',
      undefined,
      async () => {
        const [, h] = handleOf(handle);
        if (h.kind !== 'write') throw new SftpRefusal(STATUS_CODE.FAILURE, 'not opened for writing');
        if (h.failed) throw new SftpRefusal(STATUS_CODE.FAILURE, h.failed);
        const end = offset + data.length;
        if (end > maxFileBytes) {
          h.failed = `${h.name} is larger than the limit of ${maxFileBytes} bytes; nothing was stored`;
          throw new SftpRefusal(STATUS_CODE.FAILURE, h.failed);
        }
        await h.file.write(data, 0, data.length, offset);
        h.size = Math.max(h.size, end);
        sftp.status(reqid, STATUS_CODE.OK);
      },
      handle.toString('hex'),
    ),
  );

  sftp.on('READ', (reqid: number, handle: Buffer, offset: number, length: number) =>
    answer(
      reqid,
      'read',
      undefined,
      async () => {
        const [, h] = handleOf(handle);
        if (h.kind !== 'read') throw new SftpRefusal(STATUS_CODE.FAILURE, 'not opened for reading');
        const buf = Buffer.alloc(Math.min(length, MAX_READ));
        const { bytesRead } = await h.file.read(buf, 0, buf.length, offset);
        if (bytesRead === 0) sftp.status(reqid, STATUS_CODE.EOF);
        else sftp.data(reqid, buf.subarray(0, bytesRead));
      },
      handle.toString('hex'),
    ),
  );

  sftp.on('CLOSE', (reqid: number, handle: Buffer) =>
    answer(
      reqid,
      'close',
      undefined,
      async () => {
        const [key, h] = handleOf(handle);
        handles.delete(key);
        chains.delete(key);
        if (h.kind === 'dir') return sftp.status(reqid, STATUS_CODE.OK);
        if (h.kind === 'read') {
          await h.file.close();
          return sftp.status(reqid, STATUS_CODE.OK);
        }
        await commitUpload(h, folder).catch(async (err) => {
          await unlink(h.temp).catch(() => undefined);
          throw err;
        });
        log({ event: 'sftp-upload', file: h.name, bytes: h.size }, 'certificate folder file uploaded');
        sftp.status(reqid, STATUS_CODE.OK);
      },
      handle.toString('hex'),
    ),
  );

  sftp.on('OPENDIR', (reqid: number, path: string) =>
    answer(reqid, 'opendir', path, async () => {
      const target = resolveSftpPath(path);
      if (target.kind !== 'root') {
        const st = await plainFile(target.name);
        throw new SftpRefusal(st ? STATUS_CODE.FAILURE : STATUS_CODE.NO_SUCH_FILE, st ? `${target.name} is a file, not a folder` : `no folder named ${target.name}`);
      }
      newHandle(reqid, { kind: 'dir' });
    }),
  );

  sftp.on('READDIR', (reqid: number, handle: Buffer) =>
    answer(
      reqid,
      'readdir',
      undefined,
      async () => {
        const [, h] = handleOf(handle);
        if (h.kind !== 'dir') throw new SftpRefusal(STATUS_CODE.FAILURE, 'not a folder handle');
        h.entries ??= await entries(folder, options.user);
        const batch = h.entries.splice(0, DIR_BATCH);
        if (batch.length === 0) sftp.status(reqid, STATUS_CODE.EOF);
        else sftp.name(reqid, batch);
      },
      handle.toString('hex'),
    ),
  );

  const statPath = (op: string) => (reqid: number, path: string) =>
    answer(reqid, op, path, async () => {
      const target = resolveSftpPath(path);
      if (target.kind === 'root') return sftp.attrs(reqid, attributes(await stat(folder)));
      const st = await plainFile(target.name);
      if (!st) throw new SftpRefusal(STATUS_CODE.NO_SUCH_FILE, `no file named ${target.name}`);
      sftp.attrs(reqid, attributes(st));
    });
  sftp.on('STAT', statPath('stat'));
  sftp.on('LSTAT', statPath('lstat'));

  sftp.on('FSTAT', (reqid: number, handle: Buffer) =>
    answer(
      reqid,
      'fstat',
      undefined,
      async () => {
        const [, h] = handleOf(handle);
        if (h.kind === 'dir') return sftp.attrs(reqid, attributes(await stat(folder)));
        const st = await h.file.stat();
        sftp.attrs(reqid, attributes(st));
      },
      handle.toString('hex'),
    ),
  );

  // WinSCP and `sftp -p` set times after an upload; times are kept, modes and owners are not (keys stay 0600).
  sftp.on('SETSTAT', (reqid: number, path: string, attrs: Partial<Attributes>) =>
    answer(reqid, 'setstat', path, async () => {
      const target = resolveSftpPath(path);
      if (target.kind === 'file') {
        if (!(await plainFile(target.name))) throw new SftpRefusal(STATUS_CODE.NO_SUCH_FILE, `no file named ${target.name}`);
        if (attrs.atime !== undefined && attrs.mtime !== undefined) await utimes(join(folder, target.name), attrs.atime, attrs.mtime);
      }
      sftp.status(reqid, STATUS_CODE.OK);
    }),
  );

  sftp.on('FSETSTAT', (reqid: number, handle: Buffer, attrs: Partial<Attributes>) =>
    answer(
      reqid,
      'fsetstat',
      undefined,
      async () => {
        const [, h] = handleOf(handle);
        if (h.kind !== 'dir' && attrs.atime !== undefined && attrs.mtime !== undefined) {
          if (h.kind === 'write') h.times = { atime: attrs.atime, mtime: attrs.mtime };
          else await h.file.utimes(attrs.atime, attrs.mtime);
        }
        sftp.status(reqid, STATUS_CODE.OK);
      },
      handle.toString('hex'),
    ),
  );

  sftp.on('REMOVE', (reqid: number, path: string) =>
    answer(reqid, 'remove', path, async () => {
      const name = fileTarget(path);
      if (!(await plainFile(name))) throw new SftpRefusal(STATUS_CODE.NO_SUCH_FILE, `no file named ${name}`);
      await unlink(join(folder, name));
      await syncDirectory(folder);
      log({ event: 'sftp-remove', file: name }, 'certificate folder file removed');
      sftp.status(reqid, STATUS_CODE.OK);
    }),
  );

  sftp.on('RENAME', (reqid: number, from: string, to: string) =>
    answer(reqid, 'rename', `${from} -> ${to}`, async () => {
      const source = fileTarget(from);
      const target = fileTarget(to);
      if (!(await plainFile(source))) throw new SftpRefusal(STATUS_CODE.NO_SUCH_FILE, `no file named ${source}`);
      // SFTP v3 (draft-ietf-secsh-filexfer-02 §6.5): renaming onto an existing name is an error.
      if (await plainFile(target)) throw new SftpRefusal(STATUS_CODE.FAILURE, `${target} already exists; remove it first`);
      await rename(join(folder, source), join(folder, target));
      await syncDirectory(folder);
      log({ event: 'sftp-rename', file: target, from: source }, 'certificate folder file renamed');
      sftp.status(reqid, STATUS_CODE.OK);
    }),
  );

  sftp.on('REALPATH', (reqid: number, path: string) =>
    answer(reqid, 'realpath', path, async () => {
      const shown = sftpPathOf(resolveSftpPath(path));
      sftp.name(reqid, [{ filename: shown, longname: shown, attrs: {} as Attributes }]);
    }),
  );

  const refuse = (op: string, message: string) => (reqid: number, path: string) =>
    answer(reqid, op, path, async () => {
      throw new SftpRefusal(STATUS_CODE.PERMISSION_DENIED, message);
    });
  sftp.on('MKDIR', refuse('mkdir', 'the certificate folder has no sub-folders'));
  sftp.on('RMDIR', refuse('rmdir', 'the certificate folder has no sub-folders'));
  sftp.on('SYMLINK', refuse('symlink', 'links are not allowed in the certificate folder'));
  sftp.on('READLINK', refuse('readlink', 'links are not allowed in the certificate folder'));

  // A session that ends mid-upload leaves no trace: temporary files are removed, descriptors closed.
  const cleanup = () => {
    for (const h of handles.values()) {
      if (h.kind === 'dir') continue;
      void h.file.close().catch(() => undefined);
      if (h.kind === 'write') void unlink(h.temp).catch(() => undefined);
    }
    handles.clear();
  };
  // The client's EOF ends the subsystem, as OpenSSH's sftp-server exits on end of input.
  sftp.on('end', () => {
    cleanup();
    sftp.end();
  });
  sftp.on('close', cleanup);
}

async function commitUpload(h: Extract<OpenHandle, { kind: 'write' }>, folder: string): Promise<void> {
  if (h.failed) {
    await h.file.close();
    throw new SftpRefusal(STATUS_CODE.FAILURE, h.failed);
  }
  try {
    if (h.times) await h.file.utimes(h.times.atime, h.times.mtime);
    await h.file.sync();
  } finally {
    await h.file.close();
  }
  const final = join(folder, h.name);
  // The name may have become a link or folder since OPEN; never rename over those.
  const st = await lstat(final).catch(() => undefined);
  if (st && !st.isFile()) throw new SftpRefusal(STATUS_CODE.PERMISSION_DENIED, `${h.name} is not a plain file`);
  await rename(h.temp, final);
  await syncDirectory(folder);
}
