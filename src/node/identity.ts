import { randomUUID } from 'node:crypto';
import { expectObject, expectString, expectVersion, readJsonFile, writeJsonFile } from '../base/json-file.js';

/**
 * A node's stable identity, generated at its first start and kept through
 * `xmpp reset`, so that a cluster can recognise a node that comes back.
 */
export interface NodeIdentity {
  id: string;
  createdAt: string;
}

const VERSION = 1;

export async function loadIdentity(path: string): Promise<NodeIdentity> {
  const existing = await readJsonFile(path, parseIdentity);
  if (existing) return existing;
  const identity = { id: randomUUID(), createdAt: new Date().toISOString() };
  await writeJsonFile(path, { version: VERSION, ...identity });
  return identity;
}

function parseIdentity(value: unknown): NodeIdentity {
  const doc = expectObject(value, 'the identity');
  expectVersion(doc, VERSION);
  return { id: expectString(doc.id, 'id'), createdAt: expectString(doc.createdAt, 'createdAt') };
}
