/**
 * A request the node refuses, in words for the operator: what is wrong and,
 * where useful, what to do. The MMP prints it as one `Error:` line; nothing
 * was changed when it is thrown.
 */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** A file in the data directory that cannot be read as what it should hold. */
export class CorruptFileError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path} is corrupt (${reason}); restore it from a backup or remove it to start over — the node will not replace it by itself`);
    this.name = 'CorruptFileError';
  }
}
