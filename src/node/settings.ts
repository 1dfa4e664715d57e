import {
  expectArray,
  expectBoolean,
  expectNullableString,
  expectObject,
  expectString,
  expectVersion,
  readJsonFile,
  writeJsonFile,
} from '../base/json-file.js';
import type { TrustSetting } from './configuration.js';

/** The node's own XMPP settings, as `xmpp` shows them. */
export interface NodeSettings {
  domain: string | null;
  /** Interfaces as the operator typed them: CMS letters, Linux names or addresses. */
  listen: string[];
  certs: CertificateFiles | null;
  /** `xmpp enable` was given (and not undone by `xmpp disable`). */
  enabled: boolean;
  /** `xmpp cluster enable` was given. */
  clusterEnabled: boolean;
  /** `xmpp cluster trust`: what a standalone node will seed a cluster with; a member's is replicated. */
  trust: TrustSetting;
}

/** File names in the certificate folder. */
export interface CertificateFiles {
  key: string;
  cert: string;
  bundle: string | null;
}

export const EMPTY_SETTINGS: NodeSettings = Object.freeze({
  domain: null,
  listen: [],
  certs: null,
  enabled: false,
  clusterEnabled: false,
  trust: { kind: 'none' },
}) as NodeSettings;

const VERSION = 1;

export async function loadSettings(path: string): Promise<NodeSettings> {
  return (await readJsonFile(path, parseSettings)) ?? { ...EMPTY_SETTINGS, listen: [] };
}

export async function saveSettings(path: string, settings: NodeSettings): Promise<void> {
  await writeJsonFile(path, { version: VERSION, ...settings });
}

function parseSettings(value: unknown): NodeSettings {
  const doc = expectObject(value, 'the settings');
  expectVersion(doc, VERSION);
  const listen = expectArray(doc.listen, 'listen').map((v, i) => expectString(v, `listen[${i}]`));
  let certs: CertificateFiles | null = null;
  if (doc.certs !== null && doc.certs !== undefined) {
    const c = expectObject(doc.certs, 'certs');
    certs = { key: expectString(c.key, 'certs.key'), cert: expectString(c.cert, 'certs.cert'), bundle: expectNullableString(c.bundle, 'certs.bundle') };
  }
  return {
    domain: expectNullableString(doc.domain, 'domain'),
    listen,
    certs,
    enabled: expectBoolean(doc.enabled, 'enabled'),
    clusterEnabled: expectBoolean(doc.clusterEnabled, 'clusterEnabled'),
    trust: parseTrust(doc.trust),
  };
}

/** Absent in files written before clustering: no trust bundle. */
function parseTrust(value: unknown): TrustSetting {
  if (value === undefined || value === null) return { kind: 'none' };
  const t = expectObject(value, 'trust');
  if (t.kind === 'none' || t.kind === 'insecure-lab') return { kind: t.kind };
  if (t.kind === 'pem') return { kind: 'pem', file: expectString(t.file, 'trust.file'), pem: expectString(t.pem, 'trust.pem') };
  throw new Error("trust.kind must be none, pem or insecure-lab");
}
