import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const OPENSSL = '/usr/bin/openssl';

/** Runs the real openssl binary; tests fail loudly when it is missing rather than skipping. */
export async function openssl(args: string[], options: { cwd?: string } = {}): Promise<{ stdout: string; stderr: string }> {
  if (!existsSync(OPENSSL)) throw new Error(`${OPENSSL} is missing: install openssl to run the PKI tests`);
  return run(OPENSSL, args, { cwd: options.cwd, timeout: 20_000 });
}

/** A lab root CA made by openssl itself, so our parsing is checked against another implementation. */
export async function makeOpensslCa(dir: string, certFile: string, keyFile: string, cn = 'Lab Root CA'): Promise<void> {
  await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-subj', `/CN=${cn}`, '-days', '365'], { cwd: dir });
}

export async function signWithOpensslCa(dir: string, csrPath: string, caCert: string, caKey: string, outPath: string): Promise<void> {
  // A random serial rather than -CAcreateserial: that keeps a serial file beside the CA, and two
  // signings at once (tests sign leaves in parallel) tear it ("Unable to load number from ...srl").
  const serial = `0x${randomBytes(16).toString('hex').replace(/^[89a-f]/, '7')}`;
  await openssl(['x509', '-req', '-in', csrPath, '-CA', caCert, '-CAkey', caKey, '-set_serial', serial, '-out', outPath, '-days', '365', '-copy_extensions', 'copy'], { cwd: dir });
}
