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
import { DEFAULT_DNS_SETTINGS, type DnsRecordSetting, type DnsSettings } from '../dns/zone.js';
import type { FederationConfig } from '../s2s/server-streams.js';
import type { TrustSetting } from './configuration.js';
import { DEFAULT_FEDERATION, parseFederationSettings } from './federation-settings.js';
import { dnsRecordProblem, dnsTtlProblem, formatDnsEndpoint, parseDnsEndpoint } from './dns-settings.js';

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
  /** `xmpp dns enable|ttl|record`: what a standalone node serves and seeds a cluster with; a member's is replicated. */
  dns: DnsSettings;
  /** `xmpp dns listen`: this node's own responder addresses, `host:port` (never replicated, like `listen`). */
  dnsListen: string[];
  /** `xmpp federation ...`: what a standalone node federates with and seeds a cluster with; a member's is replicated. Holds the dialback secret. */
  federation: FederationConfig;
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
  dns: DEFAULT_DNS_SETTINGS,
  dnsListen: [],
  federation: DEFAULT_FEDERATION,
}) as NodeSettings;

const VERSION = 1;

export async function loadSettings(path: string): Promise<NodeSettings> {
  return (await readJsonFile(path, parseSettings)) ?? { ...EMPTY_SETTINGS, listen: [], dnsListen: [] };
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
    dns: parseDns(doc.dns),
    dnsListen: parseDnsListen(doc.dnsListen),
    // Absent in files written before federation: the defaults (federation.md).
    federation: parseFederationSettings(doc.federation),
  };
}

/** Absent in files written before `xmpp dns`: the defaults (disabled, TTL 5, no records). */
function parseDns(value: unknown): DnsSettings {
  if (value === undefined) return DEFAULT_DNS_SETTINGS;
  const d = expectObject(value, 'dns');
  const enabled = expectBoolean(d.enabled, 'dns.enabled');
  if (typeof d.ttl !== 'number' || dnsTtlProblem(d.ttl)) throw new Error('dns.ttl must be whole seconds from 1 to 86400');
  const records: Record<string, DnsRecordSetting> = {};
  for (const [id, raw] of Object.entries(expectObject(d.records, 'dns.records'))) {
    const r = expectObject(raw, `dns.records.${id}`);
    const record = { target: expectString(r.target, `dns.records.${id}.target`), priority: r.priority as number, weight: r.weight as number };
    const problem = id === '' ? 'a record has an empty member id' : dnsRecordProblem(record);
    if (problem || record.target !== record.target.toLowerCase()) throw new Error(`dns.records.${id}: ${problem ?? 'the target must be lower-case'}`);
    records[id] = record;
  }
  return { enabled, ttl: d.ttl, records };
}

/** Absent in older files: none. Each entry as formatDnsEndpoint writes it. */
function parseDnsListen(value: unknown): string[] {
  if (value === undefined) return [];
  return expectArray(value, 'dnsListen').map((v, i) => {
    const text = expectString(v, `dnsListen[${i}]`);
    let normal: string;
    try {
      normal = formatDnsEndpoint(parseDnsEndpoint(text));
    } catch (err) {
      throw new Error(`dnsListen[${i}]: ${(err as Error).message}`);
    }
    if (normal !== text) throw new Error(`dnsListen[${i}] must be written as ${normal}`);
    return text;
  });
}

/** Absent in files written before clustering: no trust bundle. */
function parseTrust(value: unknown): TrustSetting {
  if (value === undefined || value === null) return { kind: 'none' };
  const t = expectObject(value, 'trust');
  if (t.kind === 'none' || t.kind === 'insecure-lab') return { kind: t.kind };
  if (t.kind === 'pem') return { kind: 'pem', file: expectString(t.file, 'trust.file'), pem: expectString(t.pem, 'trust.pem') };
  throw new Error("trust.kind must be none, pem or insecure-lab");
}
