/** Typed errors of the replicated cluster state; operators read `message`, code branches on the class. */

/** A command is malformed; nothing was proposed. */
export class InvalidCommandError extends Error {
  override readonly name = 'InvalidCommandError';
}

/** A snapshot of the cluster state cannot be read: the node must not start on a guess. */
export class StateSnapshotError extends Error {
  override readonly name = 'StateSnapshotError';
}
