import { OperatorError } from '../../base/operator-error.js';
import { UsageError, type CommandSpec } from '../command.js';
import { listCertificateFiles } from '../../pki/certificate-folder.js';
import { PkiFileError, identifyPkiFile, parseCertificate, parseCertificates, parsePrivateKey, readCertificateFolderFile } from '../../pki/pki-file.js';
import { SubjectSyntaxError, parseSubjectWords } from '../../pki/subject.js';
import { PkiGenerateError, createKeyAndRequest, createSelfSigned } from '../../pki/generate.js';
import { certificateFacts, certificateLines, keyFacts, keyLines, requestFacts, requestLines } from '../../pki/describe.js';
import { isSelfSigned, verifyChain } from '../../pki/chain.js';
import { keyMatchesCertificate } from '../../pki/key-match.js';

/**
 * `pki list|csr|selfsigned|inspect|verify|match` over the certificate folder
 * (reference/commands.md, "Certificates"). File names are the operator's, as
 * typed; everything outside the folder is out of reach (certificate-folder.ts).
 */
export function pkiCommands(options: { certFolder: string }): CommandSpec[] {
  const folder = options.certFolder;
  const read = (name: string) => readCertificateFolderFile(folder, name);

  const list: CommandSpec = {
    path: ['pki', 'list'],
    usage: 'pki list [--json]',
    summary: 'list the files in the certificate folder (the folder SFTP sees)',
    async run(ctx) {
      if (ctx.args.length > 0) throw new UsageError(list.usage);
      const files = await listCertificateFiles(folder);
      if (ctx.json) return JSON.stringify({ files });
      return ['User supplied certificates and keys:', ...files].join('\n');
    },
  };

  const attrs = '[OU:<v>] [O:<v>] [L:<v>] [ST:<v>] [C:<cc>] [subjectAltName:<name>,...]';

  const csr: CommandSpec = {
    path: ['pki', 'csr'],
    usage: `pki csr <basename> CN:<name> ${attrs}`,
    summary: 'create a new key <basename>.key and a certificate request <basename>.csr for your CA',
    async run(ctx) {
      const [basename, ...words] = ctx.args;
      if (!basename || words.length === 0) throw new UsageError(csr.usage);
      const { keyFile, requestFile } = await pkiCall(async () => createKeyAndRequest(folder, basename, parseSubjectWords(words)));
      return `Created key file ${keyFile} and CSR ${requestFile}\nCSR file ${requestFile} ready for download via SFTP`;
    },
  };

  const selfsigned: CommandSpec = {
    path: ['pki', 'selfsigned'],
    usage: `pki selfsigned <basename> CN:<name> ${attrs}`,
    summary: 'create a new key <basename>.key and a self-signed certificate <basename>.crt (labs only)',
    async run(ctx) {
      const [basename, ...words] = ctx.args;
      if (!basename || words.length === 0) throw new UsageError(selfsigned.usage);
      const { keyFile, certificateFile } = await pkiCall(async () => createSelfSigned(folder, basename, parseSubjectWords(words)));
      return `Created key file ${keyFile} and self-signed certificate ${certificateFile}`;
    },
  };

  const inspect: CommandSpec = {
    path: ['pki', 'inspect'],
    usage: 'pki inspect <file> [--json]',
    summary: 'show the subject, issuer, alternative names, validity and SHA-256 fingerprint of a certificate, bundle, CSR or key',
    async run(ctx) {
      const [file] = ctx.args;
      if (ctx.args.length !== 1 || !file) throw new UsageError(inspect.usage);
      const contents = await pkiCall(async () => identifyPkiFile(file, await read(file)));
      switch (contents.kind) {
        case 'certificates': {
          const facts = contents.certificates.map((c) => certificateFacts(c));
          if (ctx.json) return JSON.stringify({ file, type: 'certificates', certificates: facts });
          const count = facts.length;
          const blocks = facts.map((f, index) => certificateLines(f, count > 1 ? { index, count } : undefined).join('\n'));
          return [`File : ${file}`, `Type : ${count > 1 ? `certificate bundle (${count} certificates)` : 'certificate'}`, '', blocks.join('\n\n')].join('\n');
        }
        case 'certificate-request': {
          const facts = await requestFacts(contents.request);
          if (ctx.json) return JSON.stringify({ file, type: 'certificate-request', request: facts });
          return [`File : ${file}`, ...requestLines(facts)].join('\n');
        }
        case 'private-key': {
          const facts = keyFacts(contents.key);
          if (ctx.json) return JSON.stringify({ file, type: 'private-key', key: facts });
          return [`File : ${file}`, ...keyLines(facts)].join('\n');
        }
      }
    },
  };

  const verify: CommandSpec = {
    path: ['pki', 'verify'],
    usage: 'pki verify <cert> [<ca-bundle>]',
    summary: 'check that a certificate chains to a CA bundle (or is a valid self-signed certificate) and say why not',
    async run(ctx) {
      const [certFile, bundleFile] = ctx.args;
      if (!certFile || ctx.args.length > 2) throw new UsageError(verify.usage);
      const cert = await pkiCall(async () => parseCertificate(certFile, await read(certFile)));
      let bundle;
      if (bundleFile !== undefined) {
        bundle = await pkiCall(async () => parseCertificates(bundleFile, await read(bundleFile)));
      } else if (await isSelfSigned(cert)) {
        bundle = [cert];
      } else {
        throw new OperatorError(`${certFile} is issued by ${cert.issuer}, not self-signed; give the CA bundle: pki verify ${certFile} <ca-bundle>`);
      }
      const result = await verifyChain(cert, bundle);
      if (!result.ok) throw new OperatorError(`${certFile} does not verify${bundleFile ? ` against ${bundleFile}` : ''}: ${result.reason}`);
      const lines = [bundleFile ? `${certFile}: OK, chains to ${bundleFile}` : `${certFile}: OK, self-signed`, 'Chain:'];
      result.chain.forEach((c, i) => lines.push(`  ${i} ${c.subject}${i === result.chain.length - 1 ? ' (root)' : ''}`));
      return lines.join('\n');
    },
  };

  const match: CommandSpec = {
    path: ['pki', 'match'],
    usage: 'pki match <key> <cert>',
    summary: 'check that a key and a certificate belong together',
    async run(ctx) {
      const [keyFile, certFile] = ctx.args;
      if (ctx.args.length !== 2 || !keyFile || !certFile) throw new UsageError(match.usage);
      const key = await pkiCall(async () => parsePrivateKey(keyFile, await read(keyFile)));
      const cert = await pkiCall(async () => parseCertificate(certFile, await read(certFile)));
      if (!keyMatchesCertificate(key, cert)) throw new OperatorError(`${keyFile} does not match ${certFile}: the certificate holds a different public key`);
      return `${keyFile} matches ${certFile}`;
    },
  };

  return [list, csr, selfsigned, inspect, verify, match];
}

/** The pki modules' own errors become the one `Error:` line of the MMP. */
async function pkiCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof PkiFileError || err instanceof SubjectSyntaxError || err instanceof PkiGenerateError) throw new OperatorError(err.message);
    throw err;
  }
}
