/** Typed errors of the replicated cluster state; operators read `message`, code branches on the class. */

/** A command is malformed; nothing was proposed. */
export class InvalidCommandError extends Error {
  override readonly name = 'InvalidCommandError';
}

/** A snapshot of the cluster state cannot be read: the node must not start on a guess. */
export class StateSnapshotError extends Error {
  override readonly name = 'StateSnapshotError';
}

/** A snapshot of a newer format than this release reads (it names no file: the caller knows which holds it). */
export class NewerStateError extends StateSnapshotError {
  constructor(
    readonly found: number,
    readonly newest: number,
  ) {
    super(`cluster state snapshot version ${found} is not supported by this release, which reads versions up to ${newest}`);
  }
}
