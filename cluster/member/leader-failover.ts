import { randomInt } from 'node:crypto';

/**
 * When the link to the leader closes, a follower forgets the leader and
 * campaigns after a random delay: a couple of milliseconds, so the kernel's
 * reset has reached everyone, plus a random part of a spread well above a
 * LAN round trip, so that the two survivors of a three-node cluster rarely
 * campaign at once and split the vote.
 */
const MIN_DELAY_MS = 2;
const SPREAD_MS = 60;

export function failoverCampaignDelayMs(): number {
  return MIN_DELAY_MS + randomInt(SPREAD_MS);
}

/**
 * A crashed leader's sockets reset at once: the follower forgets it, so
 * pre-votes are granted now rather than after the lease, and campaigns soon
 * unless someone else has. A quorum still decides: if the leader lives, the
 * others still hear it and refuse the pre-vote, which never raises terms.
 */
export function afterLeaderLinkLost(member: { forgetLeader(): void; campaignIfLeaderless(): void }): void {
  member.forgetLeader();
  setTimeout(() => member.campaignIfLeaderless(), failoverCampaignDelayMs()).unref();
}
