import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { nodeInterpreter } from '../../../src/mmp/node-commands.js';
import type { Interpreter } from '../../../src/mmp/interpreter.js';
import { XmppNode } from '../../../src/node/xmpp-node.js';
import { expiryWarnings, expiryWarningText } from '../../../src/pki/expiry.js';
import { parseCertificates } from '../../../src/pki/pki-file.js';
import { daysFrom, makeDatedCertificate } from '../../helpers/dated-certificates.js';
import { MemoryCluster } from '../../helpers/memory-cluster.js';
import { ScriptTerminal } from '../../helpers/script-terminal.js';
import { LogCapture, tempDir } from '../../helpers/test-node.js';

/**
 * Certificate expiry warnings (issue 16: "pki warns 30 days ahead in xmpp
 * cluster status"): certificates made by openssl valid for 10 days, for 40
 * days and already expired; the node's certificate (`xmpp certs`) and the
 * trust bundle (`xmpp cluster trust`) are judged against a clock the test sets.
 */

const NOW = new Date('2026-12-02T12:00:00Z');
let pki: string;
/** The files the tests copy into a node's certificate folder. */
const files = new Map<string, Buffer>();

beforeAll(async () => {
  pki = await tempDir('expiry-');
  const ca = { cert: join(pki, 'ca.cer'), key: join(pki, 'ca.key') };
  await makeDatedCertificate(join(pki, 'ca'), { cn: 'Site CA', ca: true, notBefore: daysFrom(NOW, -400), notAfter: daysFrom(NOW, 40) });
  await makeDatedCertificate(join(pki, 'old-ca'), { cn: 'Old Site CA', ca: true, notBefore: daysFrom(NOW, -800), notAfter: daysFrom(NOW, -3) });
  await makeDatedCertificate(join(pki, 'soon'), { cn: 'cb1.example.test', san: 'IP:127.0.18.1', notBefore: daysFrom(NOW, -355), notAfter: daysFrom(NOW, 10), issuer: ca });
  await makeDatedCertificate(join(pki, 'later'), { cn: 'cb1.example.test', san: 'IP:127.0.18.1', notBefore: NOW, notAfter: daysFrom(NOW, 40), issuer: ca });
  await makeDatedCertificate(join(pki, 'gone'), { cn: 'cb1.example.test', san: 'IP:127.0.18.1', notBefore: daysFrom(NOW, -30), notAfter: daysFrom(NOW, -2), issuer: ca });
  for (const f of ['ca.cer', 'old-ca.cer', 'soon.key', 'soon.cer', 'later.key', 'later.cer', 'gone.key', 'gone.cer']) files.set(f, await readFile(join(pki, f)));
  files.set('both-cas.cer', Buffer.concat([files.get('ca.cer')!, files.get('old-ca.cer')!]));
}, 60_000);

async function copyIn(folder: string, ...names: string[]): Promise<void> {
  for (const n of names) await writeFile(join(folder, n), files.get(n)!, { mode: 0o600 });
}

describe('the expiry warning of one certificate', () => {
  it('warns of a certificate valid for 10 more days, not of one valid for 40, and says an expired one expired', () => {
    const warn = (name: string) => expiryWarnings('certificate', name, parseCertificates(name, files.get(name)!), NOW).map(expiryWarningText);
    expect(warn('soon.cer')).toEqual(['certificate file soon.cer expires on 2026-12-12 (in 10 days); renew it (pki csr, then xmpp certs)']);
    expect(warn('later.cer')).toEqual([]);
    expect(warn('gone.cer')).toEqual(['certificate file gone.cer expired on 2026-11-30 (2 days ago); renew it (pki csr, then xmpp certs)']);
  });

  it('starts warning 30 days ahead, counting whole days down to less than a day', () => {
    const [later] = parseCertificates('later.cer', files.get('later.cer')!);
    const at = (days: number) => expiryWarnings('certificate', 'later.cer', [later!], daysFrom(NOW, days)).map(expiryWarningText);
    expect(at(9.9)).toEqual([]);
    expect(at(10)).toEqual(['certificate file later.cer expires on 2027-01-11 (in 30 days); renew it (pki csr, then xmpp certs)']);
    expect(at(39)).toEqual(['certificate file later.cer expires on 2027-01-11 (in 1 day); renew it (pki csr, then xmpp certs)']);
    expect(at(39.5)).toEqual(['certificate file later.cer expires on 2027-01-11 (in less than a day); renew it (pki csr, then xmpp certs)']);
    expect(at(40)).toEqual(['certificate file later.cer expired on 2027-01-11 (less than a day ago); renew it (pki csr, then xmpp certs)']);
  });

  it('names which certificate of a trust bundle and its subject', () => {
    const bundle = parseCertificates('both-cas.cer', files.get('both-cas.cer')!);
    expect(expiryWarnings('trust-bundle', 'both-cas.cer', bundle, NOW).map(expiryWarningText)).toEqual([
      'trust bundle both-cas.cer: certificate 2 of 2 (CN=Old Site CA) expired on 2026-11-29 (3 days ago); put the renewed CA certificates in a bundle and give it to xmpp cluster trust',
    ]);
  });
});

describe('xmpp cluster status on a member', () => {
  let cluster: MemoryCluster;
  afterEach(async () => cluster.close());

  async function member(certificate: string, trust: string): Promise<Interpreter> {
    cluster = new MemoryCluster();
    const cb1 = await cluster.node('cb1', '127.0.18.1');
    const base = certificate.replace(/\.cer$/, '');
    await copyIn(cb1.node.certFolder, `${base}.key`, certificate, trust);
    for (const line of ['xmpp domain example.test', `xmpp certs ${base}.key ${certificate}`, `xmpp cluster trust ${trust}`, 'xmpp cluster initialize']) {
      expect({ line, out: await cb1.run(line) }).toEqual({ line, out: '' });
    }
    return nodeInterpreter(cb1.node, { now: () => NOW });
  }
  const run = async (mmp: Interpreter, line: string) => (await mmp.run(line, new ScriptTerminal([]), 'exec', 'admin')).output;

  it('ends our additions with a Warning line for a node certificate expiring in 10 days, the CMS block untouched', async () => {
    const mmp = await member('soon.cer', 'ca.cer');
    const text = await run(mmp, 'xmpp cluster status');
    const [cms, ours] = text.split('\n\n');
    expect(cms).not.toContain('Warning');
    expect(cms!.split('\n').slice(-3)).toEqual(['Key file           : soon.key', 'Certificate file   : soon.cer', 'Trust bundle       : ca.cer']);
    expect(ours!.split('\n').slice(0, 1)).toEqual(['This node          : cb1 127.0.18.1:5222']);
    expect(ours!.trimEnd().split('\n').at(-1)).toBe('Warning: certificate file soon.cer expires on 2026-12-12 (in 10 days); renew it (pki csr, then xmpp certs)');
    const json = JSON.parse(await run(mmp, 'xmpp cluster status --json'));
    expect(json.certificateWarnings).toEqual([
      {
        role: 'certificate',
        file: 'soon.cer',
        subject: 'CN=cb1.example.test',
        notAfter: '2026-12-12T12:00:00.000Z',
        expired: false,
        days: 10,
        text: 'certificate file soon.cer expires on 2026-12-12 (in 10 days); renew it (pki csr, then xmpp certs)',
      },
    ]);
  });

  it('says nothing of certificates valid for 40 more days', async () => {
    const mmp = await member('later.cer', 'ca.cer');
    expect(await run(mmp, 'xmpp cluster status')).not.toContain('Warning');
    expect(JSON.parse(await run(mmp, 'xmpp cluster status --json')).certificateWarnings).toEqual([]);
  });

  it('warns of an expired node certificate and of the expired CA in the replicated trust bundle', async () => {
    const mmp = await member('gone.cer', 'both-cas.cer');
    const warnings = (await run(mmp, 'xmpp cluster status')).split('\n').filter((l) => l.startsWith('Warning'));
    expect(warnings).toEqual([
      'Warning: certificate file gone.cer expired on 2026-11-30 (2 days ago); renew it (pki csr, then xmpp certs)',
      'Warning: trust bundle both-cas.cer: certificate 2 of 2 (CN=Old Site CA) expired on 2026-11-29 (3 days ago); put the renewed CA certificates in a bundle and give it to xmpp cluster trust',
    ]);
    expect(await run(mmp, 'xmpp status')).toContain(`\n${warnings.join('\n')}\n`);
  });
});

describe('xmpp and xmpp status on a standalone node', () => {
  let node: XmppNode;
  let mmp: Interpreter;
  const run = async (line: string) => (await mmp.run(line, new ScriptTerminal([]), 'exec', 'admin')).output;
  afterEach(async () => node.close());

  it('end with the warning, and lose it once a renewed certificate is uploaded over the same name', async () => {
    node = await XmppNode.open({ dataDir: await tempDir(), name: 'cb1', address: '127.0.18.1', log: new LogCapture().logger, serve: false });
    mmp = nodeInterpreter(node, { now: () => NOW });
    await copyIn(node.certFolder, 'soon.key', 'soon.cer', 'ca.cer');
    for (const line of ['xmpp domain example.test', 'xmpp certs soon.key soon.cer ca.cer']) expect(await run(line)).toBe('');
    const warning = 'Warning: certificate file soon.cer expires on 2026-12-12 (in 10 days); renew it (pki csr, then xmpp certs)';
    const settings = await run('xmpp');
    expect(settings.split('\n').slice(-4, -2)).toEqual(['CA Bundle file       : ca.cer', 'STATUS               : XMPP server not configured: no listening interfaces set (xmpp listen <interface>)']);
    expect(settings.split('\n').slice(-2)).toEqual([warning, '']);
    expect((await run('xmpp status')).trimEnd().split('\n').at(-1)).toBe(warning);
    expect(JSON.parse(await run('xmpp status --json')).certificateWarnings.map((w: { text: string }) => w.text)).toEqual([warning.replace('Warning: ', '')]);

    // The renewal as the runbook says: the new certificate for the same key, uploaded over the old name.
    await writeFile(join(node.certFolder, 'soon.cer'), files.get('later.cer')!);
    await writeFile(join(node.certFolder, 'soon.key'), files.get('later.key')!);
    expect(await run('xmpp')).not.toContain('Warning');
    expect(await run('xmpp status')).not.toContain('Warning');
  });
});
