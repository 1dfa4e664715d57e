import { isIP } from 'node:net';
import type { JsonGeneralName, JsonName } from './x509.js';

/**
 * The attribute words of `pki csr` and `pki selfsigned`, as the MMP takes them:
 * `CN:tptac9.com O:"Example Inc" subjectAltName:cb1.tptac9.com,cb2.tptac9.com`
 * (`subAltName:` is the seed's spelling and means the same).
 */

export interface SubjectRequest {
  /** Distinguished name, most significant attribute first (C, ST, L, O, OU, CN). */
  name: JsonName;
  commonName: string;
  altNames: JsonGeneralName[];
}

export class SubjectSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SubjectSyntaxError';
  }
}

const DN_ORDER = ['C', 'ST', 'L', 'O', 'OU', 'CN'] as const;
type DnKey = (typeof DN_ORDER)[number];
const SAN_KEYS = new Set(['subjectAltName', 'subAltName']);

// RFC 5280 upper bounds (ub-common-name etc.), and 2 letters for a country (ISO 3166).
const MAX_LENGTH: Record<DnKey, number> = { C: 2, ST: 128, L: 128, O: 64, OU: 64, CN: 64 };

export function parseSubjectWords(words: string[]): SubjectRequest {
  const dn = new Map<DnKey, string>();
  let altNames: JsonGeneralName[] | undefined;
  for (const word of words) {
    const colon = word.indexOf(':');
    if (colon <= 0) throw new SubjectSyntaxError(`'${word}' is not an attribute (expected CN:, OU:, O:, L:, ST:, C: or subjectAltName:)`);
    const key = word.slice(0, colon);
    const value = word.slice(colon + 1);
    if (SAN_KEYS.has(key)) {
      if (altNames) throw new SubjectSyntaxError('subjectAltName is given twice');
      altNames = parseAltNames(value);
      continue;
    }
    if (!(DN_ORDER as readonly string[]).includes(key)) throw new SubjectSyntaxError(`unknown attribute '${key}:' (expected CN:, OU:, O:, L:, ST:, C: or subjectAltName:)`);
    const dnKey = key as DnKey;
    if (dn.has(dnKey)) throw new SubjectSyntaxError(`${key}: is given twice`);
    if (value === '') throw new SubjectSyntaxError(`${key}: has no value`);
    if (dnKey === 'C' && !/^[A-Z]{2}$/.test(value)) throw new SubjectSyntaxError('C: is a two-letter country code in capitals (e.g. C:US)');
    if (value.length > MAX_LENGTH[dnKey]) throw new SubjectSyntaxError(`${key}: is longer than ${MAX_LENGTH[dnKey]} characters`);
    if (/[\u0000-\u001f\u007f]/.test(value)) throw new SubjectSyntaxError(`${key}: contains control characters`);
    dn.set(dnKey, value);
  }
  const commonName = dn.get('CN');
  if (commonName === undefined) throw new SubjectSyntaxError('CN:<name> is required (the name call bridges and peers connect to)');
  const name: JsonName = DN_ORDER.filter((k) => dn.has(k)).map((k) => ({ [k]: [dn.get(k)!] }));
  return { name, commonName, altNames: altNames ?? [] };
}

function parseAltNames(value: string): JsonGeneralName[] {
  const items = value.split(',');
  if (value === '' || items.some((i) => i === '')) throw new SubjectSyntaxError('subjectAltName: is a comma-separated list of names with no empty entries');
  const names: JsonGeneralName[] = [];
  for (const item of items) {
    const name = parseAltName(item);
    if (!names.some((n) => n.type === name.type && n.value === name.value)) names.push(name);
  }
  return names;
}

function parseAltName(item: string): JsonGeneralName {
  if (item.startsWith('IP:')) {
    const ip = item.slice(3);
    if (!isIP(ip)) throw new SubjectSyntaxError(`'${ip}' is not an IP address`);
    return { type: 'ip', value: ip };
  }
  const host = item.startsWith('DNS:') ? item.slice(4) : item;
  if (isIP(host)) return { type: 'ip', value: host };
  if (!isDnsName(host)) throw new SubjectSyntaxError(`'${host}' is not a DNS name or IP address`);
  return { type: 'dns', value: host };
}

const LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

/** A host name, optionally with a leading `*.` wildcard label (RFC 6125 §6.4.3). */
export function isDnsName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split('.');
  if (labels[0] === '*') labels.shift();
  return labels.length > 0 && labels.every((l) => LABEL.test(l));
}
