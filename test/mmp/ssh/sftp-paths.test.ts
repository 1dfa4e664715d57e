import { describe, expect, it } from 'vitest';
import { SftpPathError, resolveSftpPath, sftpPathOf } from '../../../src/mmp/ssh/sftp-paths.js';

describe('SFTP paths', () => {
  it('maps /, . and the empty path to the certificate folder', () => {
    for (const p of ['/', '.', '', '//', '/./', './.']) expect(resolveSftpPath(p)).toEqual({ kind: 'root' });
  });

  it('maps plain names, relative or absolute, to files of the folder', () => {
    for (const p of ['abhiall.cer', '/abhiall.cer', './abhiall.cer', '//abhiall.cer/']) expect(resolveSftpPath(p)).toEqual({ kind: 'file', name: 'abhiall.cer' });
    expect(sftpPathOf({ kind: 'file', name: 'a.key' })).toBe('/a.key');
    expect(sftpPathOf({ kind: 'root' })).toBe('/');
  });

  it('refuses .., deeper paths, hidden and unsafe names', () => {
    const refused = ['..', '/..', '../x', '/../etc/passwd', 'a/../b', '/etc/passwd', 'sub/file', '.hidden', '.x.upload', 'a b', 'a\\b', 'é.cer', 'x\0y', 'a'.repeat(2000)];
    for (const p of refused) expect(() => resolveSftpPath(p), p).toThrow(SftpPathError);
  });
});
