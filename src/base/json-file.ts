import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from './atomic-file.js';
import { checkFormatVersion, NewerFormatError } from './format-version.js';
import { CorruptFileError } from './operator-error.js';

/**
 * A JSON document in the data directory. Reading never repairs: a file that
 * does not parse or does not hold what `validate` expects stops the caller
 * with a CorruptFileError naming it, and one written by a newer release
 * (expectVersion) with a NewerFormatError naming it.
 */
export async function readJsonFile<T>(path: string, validate: (value: unknown) => T): Promise<T | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CorruptFileError(path, `not JSON: ${(err as Error).message}`);
  }
  try {
    return validate(value);
  } catch (err) {
    if (err instanceof VersionAheadError) throw new NewerFormatError(path, err.found, err.newest);
    throw new CorruptFileError(path, (err as Error).message);
  }
}

/** Writes atomically, mode 0600: most of what the node keeps is secret. */
export async function writeJsonFile(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n', 0o600);
}

/** Small checks for validators, each throwing a message that says what is wrong. */
export function expectObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${what} must be an object`);
  return value as Record<string, unknown>;
}

export function expectString(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new Error(`${what} must be a string`);
  return value;
}

export function expectNullableString(value: unknown, what: string): string | null {
  if (value === null || value === undefined) return null;
  return expectString(value, what);
}

export function expectBoolean(value: unknown, what: string): boolean {
  if (typeof value !== 'boolean') throw new Error(`${what} must be true or false`);
  return value;
}

export function expectArray(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${what} must be a list`);
  return value;
}

/** A newer version than the validator knows; readJsonFile names the file. */
class VersionAheadError extends Error {
  constructor(
    readonly found: number,
    readonly newest: number,
  ) {
    super(`format version ${found} is newer than ${newest}`);
  }
}

/**
 * The document's format version, from 1 to `newest`: the validator migrates
 * an older one (fields it lacks take their defaults), and a newer one stops
 * the reader with a NewerFormatError, never a guess.
 */
export function expectVersion(doc: Record<string, unknown>, newest: number): number {
  try {
    return checkFormatVersion('', doc.version, newest);
  } catch (err) {
    if (err instanceof NewerFormatError) throw new VersionAheadError(err.found, err.newest);
    throw err;
  }
}
