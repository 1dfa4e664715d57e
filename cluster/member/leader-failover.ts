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
