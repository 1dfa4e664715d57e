/**
 * The bytes of a cluster-state proposal in the Raft log: a versioned JSON
 * envelope carrying the client id and sequence number (so a retried proposal
 * applies once, dissertation §6.3) and the command.
 */
import { commandProblem, type ClusterCommand } from './commands.js';
import { InvalidCommandError } from './errors.js';

export const PROPOSAL_VERSION = 1;

export interface Proposal {
  /** Stable per client session, e.g. `<node>/<process start>/<counter>`. */
  readonly client: string;
  /** Strictly increasing per client; a retry reuses the number. */
  readonly seq: number;
  readonly command: ClusterCommand;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeProposal(p: Proposal): Uint8Array {
  const problem = proposalProblem(p.client, p.seq) ?? commandProblem(p.command);
  if (problem !== undefined) throw new InvalidCommandError(problem);
  return encoder.encode(JSON.stringify({ v: PROPOSAL_VERSION, client: p.client, seq: p.seq, cmd: p.command }));
}

/** Decodes and re-validates an entry; throws InvalidCommandError for anything else. */
export function decodeProposal(data: Uint8Array | string): Proposal {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof data === 'string' ? data : decoder.decode(data));
  } catch {
    throw new InvalidCommandError('entry is not a JSON proposal');
  }
  if (typeof parsed !== 'object' || parsed === null) throw new InvalidCommandError('entry is not a proposal object');
  const { v, client, seq, cmd } = parsed as Record<string, unknown>;
  if (v !== PROPOSAL_VERSION) throw new InvalidCommandError(`unsupported proposal version ${JSON.stringify(v)}`);
  const problem = proposalProblem(client, seq) ?? commandProblem(cmd);
  if (problem !== undefined) throw new InvalidCommandError(problem);
  return { client: client as string, seq: seq as number, command: cmd as ClusterCommand };
}

function proposalProblem(client: unknown, seq: unknown): string | undefined {
  if (typeof client !== 'string' || client.length === 0 || client.length > 200) return 'client id must be a string of 1–200 characters';
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return 'sequence number must be a positive integer';
  return undefined;
}
