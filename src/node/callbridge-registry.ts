import { randomInt } from 'node:crypto';
import { isValidDnsLabel } from '../xmpp/jid.js';
import { OperatorError } from '../base/operator-error.js';
import { SerialQueue } from '../base/serial-queue.js';
import { expectArray, expectObject, expectString, expectVersion, readJsonFile, writeJsonFile } from '../base/json-file.js';

/**
 * The call bridges this node lets in, name → shared secret. A standalone
 * node keeps it in its data directory; a cluster member will keep it in the
 * replicated log instead, behind the same interface.
 */

export interface Callbridge {
  /** As the operator typed it. */
  name: string;
  secret: string;
}

export interface CallbridgeRegistry {
  list(): Callbridge[];
  /** By name, case-insensitively (the component address is a DNS name). */
  get(name: string): Callbridge | undefined;
  add(name: string, secret: string): Promise<void>;
  remove(name: string): Promise<void>;
  clear(): Promise<void>;
}

const SECRET_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
export const GENERATED_SECRET_LENGTH = 20;
const MAX_SECRET_LENGTH = 256;

/** At least 20 characters of [A-Za-z0-9] from the CSPRNG (reference: ports-and-names.md). */
export function generateSecret(length = GENERATED_SECRET_LENGTH): string {
  let s = '';
  for (let i = 0; i < length; i++) s += SECRET_ALPHABET[randomInt(SECRET_ALPHABET.length)];
  return s;
}

export function callbridgeNameProblem(name: string): string | null {
  if (isValidDnsLabel(name)) return null;
  return `'${name}' is not a valid callbridge name: use letters, digits and hyphens (1 to 63), not starting or ending with a hyphen`;
}

export function secretProblem(secret: string): string | null {
  if (secret.length === 0) return 'the secret is empty';
  if (secret.length > MAX_SECRET_LENGTH) return `the secret is longer than ${MAX_SECRET_LENGTH} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f]/.test(secret)) return 'the secret may not contain spaces or control characters';
  return null;
}

/** Validation shared by every registry implementation: nothing half-applied. */
export function checkNewCallbridge(existing: CallbridgeRegistry, name: string, secret: string): void {
  const nameProblem = callbridgeNameProblem(name);
  if (nameProblem) throw new OperatorError(nameProblem);
  const problem = secretProblem(secret);
  if (problem) throw new OperatorError(problem);
  if (existing.get(name)) throw new OperatorError(`callbridge ${name} already exists; del it first to change its secret`);
}

const VERSION = 1;

export class FileCallbridgeRegistry implements CallbridgeRegistry {
  /** Each change starts from the state the previous one left, never from a copy taken before it. */
  private readonly changes = new SerialQueue();

  private constructor(
    private readonly path: string,
    private entries: Map<string, Callbridge>,
  ) {}

  static async open(path: string): Promise<FileCallbridgeRegistry> {
    const list = (await readJsonFile(path, parseRegistry)) ?? [];
    return new FileCallbridgeRegistry(path, new Map(list.map((c) => [c.name.toLowerCase(), c])));
  }

  list(): Callbridge[] {
    return [...this.entries.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  get(name: string): Callbridge | undefined {
    return this.entries.get(name.toLowerCase());
  }

  add(name: string, secret: string): Promise<void> {
    return this.changes.run(async () => {
      checkNewCallbridge(this, name, secret);
      await this.save(new Map(this.entries).set(name.toLowerCase(), { name, secret }));
    });
  }

  remove(name: string): Promise<void> {
    return this.changes.run(async () => {
      if (!this.get(name)) throw new OperatorError(`no callbridge named ${name}`);
      const next = new Map(this.entries);
      next.delete(name.toLowerCase());
      await this.save(next);
    });
  }

  clear(): Promise<void> {
    return this.changes.run(() => this.save(new Map()));
  }

  /** The file first, memory after: a failed write leaves both as they were. */
  private async save(next: Map<string, Callbridge>): Promise<void> {
    await writeJsonFile(this.path, { version: VERSION, callbridges: [...next.values()] });
    this.entries = next;
  }
}

function parseRegistry(value: unknown): Callbridge[] {
  const doc = expectObject(value, 'the registry');
  expectVersion(doc, VERSION);
  const seen = new Set<string>();
  return expectArray(doc.callbridges, 'callbridges').map((v, i) => {
    const c = expectObject(v, `callbridges[${i}]`);
    const name = expectString(c.name, `callbridges[${i}].name`);
    const secret = expectString(c.secret, `callbridges[${i}].secret`);
    const problem = callbridgeNameProblem(name) ?? secretProblem(secret);
    if (problem) throw new Error(`callbridges[${i}]: ${problem}`);
    if (seen.has(name.toLowerCase())) throw new Error(`callbridge ${name} is listed twice`);
    seen.add(name.toLowerCase());
    return { name, secret };
  });
}
