/**
 * A request refused, in words for the operator: what is wrong and, where
 * useful, what to do. Whoever carries it to the operator (the MMP, the CLI)
 * prints it as one `Error:` line; nothing was changed when it is thrown.
 * It is the one operator error of the tree, at the ground floor, so that
 * every floor above can throw it without importing the MMP.
 */
export class OperatorError extends Error {
  /**
   * Lines the operator should see before the `Error:` line: the steps a
   * check took before the one that failed (`xmpp dns check`).
   */
  readonly before: string;
  constructor(message: string, options: { before?: string } = {}) {
    super(message);
    this.before = options.before ?? '';
    this.name = 'OperatorError';
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
