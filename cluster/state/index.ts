/** The replicated cluster state machine and its commands: what the cluster wiring and the MMP commands import. */
export { ClusterState, MAX_CLIENT_SESSIONS, type ApplyOutcome, type ApplyResult, type DnsView, type FederationView } from './cluster-state.js';
export * from './commands.js';
export { encodeProposal, decodeProposal, PROPOSAL_VERSION, type Proposal } from './proposal.js';
export { InvalidCommandError, StateSnapshotError } from './errors.js';
export type { Member, MemberRole } from './state-data.js';
export { STATE_VERSION, DEFAULT_DNS_TTL } from './state-data.js';
export { dnsLabelProblem, domainProblem, domainPatternProblem, secretProblem, pemBundleProblem, parseHostPort } from './validation.js';
export { encodeMemberInfo, decodeMemberInfo, type MemberInfo } from './member-info.js';
