import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyChain } from '../../src/pki/chain.js';
import { parseCertificate, parseCertificates } from '../../src/pki/pki-file.js';
import { makeOpensslCa, openssl } from './openssl.js';

let dir: string;
const file = (name: string) => join(dir, name);
const cert = async (name: string) => parseCertificate(name, await readFile(file(name)));
const bundle = async (...names: string[]) => parseCertificates('bundle', Buffer.concat(await Promise.all(names.map((n) => readFile(file(n))))));

/** A certificate for `cn` issued by `issuer`, with the given basicConstraints. */
async function issue(cn: string, issuer: string, ca: boolean): Promise<void> {
  await openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', file(`${cn}.key`), '-out', file(`${cn}.csr`), '-subj', `/CN=${cn}`]);
  await writeFile(file(`${cn}.ext`), `basicConstraints=critical,CA:${ca ? 'TRUE' : 'FALSE'}\n`);
  await openssl(['x509', '-req', '-in', file(`${cn}.csr`), '-CA', file(`${issuer}.crt`), '-CAkey', file(`${issuer}.key`), '-CAcreateserial', '-out', file(`${cn}.crt`), '-days', '30', '-extfile', file(`${cn}.ext`)]);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pki-chain-'));
  await makeOpensslCa(dir, file('root.crt'), file('root.key'), 'root');
  await issue('intermediate', 'root', true);
  await issue('leaf', 'intermediate', false);
  await issue('under-leaf', 'leaf', false);
  await makeOpensslCa(dir, file('other-root.crt'), file('other-root.key'), 'other-root');
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe('certificate chains', () => {
  it('follows leaf -> intermediate -> root through a bundle (root last), as openssl verify does', async () => {
    const result = await verifyChain(await cert('leaf.crt'), await bundle('intermediate.crt', 'root.crt'));
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.chain.map((c) => c.subject)).toEqual(['CN=leaf', 'CN=intermediate', 'CN=root']);
    const ossl = await openssl(['verify', '-CAfile', file('root.crt'), '-untrusted', file('intermediate.crt'), file('leaf.crt')]);
    expect(ossl.stdout).toContain('OK');
  });

  it('needs the root: a bundle of the intermediate alone does not verify', async () => {
    expect(await verifyChain(await cert('leaf.crt'), await bundle('intermediate.crt'))).toEqual({
      ok: false,
      reason: 'the next issuer CN=root is not in the bundle (a bundle holds the intermediates and the root CA, root last)',
    });
  });

  it('refuses an issuer that is not a CA', async () => {
    expect(await verifyChain(await cert('under-leaf.crt'), await bundle('leaf.crt', 'intermediate.crt', 'root.crt'))).toEqual({
      ok: false,
      reason: 'CN=leaf is not a CA certificate (basicConstraints CA:FALSE), so it cannot issue certificates',
    });
  });

  it('refuses an unrelated root and says so', async () => {
    const r = await verifyChain(await cert('leaf.crt'), await bundle('other-root.crt'));
    expect(r).toEqual({ ok: false, reason: 'its issuer CN=intermediate is not in the bundle (a bundle holds the intermediates and the root CA, root last)' });
  });

  it('refuses a certificate outside its validity period, naming the date', async () => {
    const later = new Date(Date.now() + 60 * 86_400_000);
    const r = await verifyChain(await cert('leaf.crt'), await bundle('intermediate.crt', 'root.crt'), later);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/^CN=leaf expired on \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    const earlier = new Date(Date.now() - 86_400_000);
    const e = await verifyChain(await cert('leaf.crt'), await bundle('intermediate.crt', 'root.crt'), earlier);
    if (!e.ok) expect(e.reason).toMatch(/^CN=leaf is not valid before /);
    expect(e.ok).toBe(false);
  });
});
