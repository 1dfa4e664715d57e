/**
 * What a node keeps when it leaves the cluster (or is removed): the
 * replicated domain, call-bridge registry and trust, written into its local
 * configuration, so it goes on as a standalone node with the same settings
 * (commands.md, `xmpp cluster leave`).
 */
import type { NodeConfiguration } from '../../src/node/configuration.js';
import type { ClusterState } from '../state/cluster-state.js';
import { trustSetting } from './replicated-configuration.js';

export interface StandaloneCopy {
  readonly domain: string | null;
  readonly callbridges: readonly { readonly name: string; readonly secret: string }[];
  readonly trust: ReturnType<typeof trustSetting>;
}

export function copyOf(state: ClusterState): StandaloneCopy {
  return { domain: state.domain(), callbridges: state.callbridges(), trust: trustSetting(state.trust()) };
}

/** Makes `local` hold `copy`: call bridges missing or with another secret are replaced, extra ones removed. */
export async function writeCopy(local: NodeConfiguration, copy: StandaloneCopy): Promise<void> {
  if (copy.domain !== null && local.domain() !== copy.domain) await local.setDomain(copy.domain);
  const wanted = new Map(copy.callbridges.map((c) => [c.name.toLowerCase(), c]));
  for (const cb of local.callbridges()) {
    const w = wanted.get(cb.name.toLowerCase());
    if (!w || w.secret !== cb.secret || w.name !== cb.name) await local.removeCallbridge(cb.name);
  }
  for (const cb of copy.callbridges) if (!local.callbridge(cb.name)) await local.addCallbridge(cb.name, cb.secret);
  if (JSON.stringify(local.trust()) !== JSON.stringify(copy.trust)) await local.setTrust(copy.trust);
}
