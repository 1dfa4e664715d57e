import { join } from 'node:path';

/** Where a node keeps what it knows (reference: ports-and-names.md, "Data directory"). */
export interface DataDirLayout {
  root: string;
  settings: string;
  callbridges: string;
  identity: string;
  lock: string;
  /** The certificate folder: the only folder SFTP sees. */
  certs: string;
  /** The local MMP control socket (mode 0600). */
  controlSocket: string;
}

export function dataDirLayout(root: string): DataDirLayout {
  return {
    root,
    settings: join(root, 'settings.json'),
    callbridges: join(root, 'callbridges.json'),
    identity: join(root, 'identity.json'),
    lock: join(root, 'node.lock'),
    certs: join(root, 'certs'),
    controlSocket: join(root, 'mmp.sock'),
  };
}
