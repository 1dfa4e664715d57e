/**
 * Format versions of what a node keeps in its data directory. Every file
 * carries one; a release reads every version up to its own (migrating the
 * older ones as it reads them: absent fields take their defaults) and refuses
 * a newer one rather than guess at it, since rewriting a file it only half
 * understood would lose what the newer release put there.
 */
export class NewerFormatError extends Error {
  constructor(
    readonly path: string,
    readonly found: number,
    readonly newest: number,
  ) {
    super(
      `${path} has format version ${found}, written by a newer release; this release reads versions up to ${newest}. Run the newer release on this data directory, or restore a backup taken with this one`,
    );
    this.name = 'NewerFormatError';
  }
}

/**
 * A document's version, checked: a whole number from 1 to `newest`. A newer
 * one is a NewerFormatError naming `path`; anything else is an Error saying
 * what is wrong (the caller reports the file as corrupt).
 */
export function checkFormatVersion(path: string, found: unknown, newest: number): number {
  if (typeof found !== 'number' || !Number.isInteger(found) || found < 1) throw new Error(`unknown format version ${JSON.stringify(found)} (expected 1 to ${newest})`);
  if (found > newest) throw new NewerFormatError(path, found, newest);
  return found;
}
