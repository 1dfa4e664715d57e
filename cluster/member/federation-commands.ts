/**
 * The federation settings of a node's configuration (src/node's
 * FederationChange and FederationConfig) as the replicated state's
 * federation-* commands: one change as it is proposed, a whole standalone
 * configuration as `xmpp cluster initialize` seeds it, and the changes that
 * make a standalone node hold a cluster's settings when it leaves.
 */
import type { FederationChange, FederationOutcome } from '../../src/node/federation-settings.js';
import type { FederationConfig } from '../../src/s2s/server-streams.js';
import {
  addStaticRoute,
  addToPolicyList,
  batch,
  deleteFromPolicyList,
  deleteStaticRoute,
  setClientCertsRequired,
  setDialbackSecret,
  setFederationEnabled,
  setPrivacyMode,
  setSaslExternal,
  setSecurityMode,
  type ClusterCommand,
} from '../state/commands.js';

/** The command for a checked change (applyFederationChange's outcome); enabling with a new secret carries the secret in the same batch. */
export function federationCommands(current: FederationConfig, outcome: FederationOutcome): ClusterCommand {
  const c = outcome.change;
  switch (c.type) {
    case 'enabled': {
      const secret = outcome.next.dialbackSecret;
      const enable = setFederationEnabled(c.enabled);
      return secret !== null && secret !== current.dialbackSecret ? batch([setDialbackSecret(secret), enable]) : enable;
    }
    case 'dialback-secret':
      return setDialbackSecret(c.secret);
    case 'security':
      return setSecurityMode(c.mode);
    case 'client-certs':
      return setClientCertsRequired(c.required);
    case 'sasl-external':
      return setSaslExternal(c.direction, c.enabled);
    case 'privacy':
      return setPrivacyMode(c.mode);
    case 'list-add':
      return addToPolicyList(c.list, c.domain, c.direction);
    case 'list-del':
      return deleteFromPolicyList(c.list, c.domain);
    case 'route-add':
      return addStaticRoute(c.domain, c.target);
    case 'route-del':
      return deleteStaticRoute(c.domain, c.target);
  }
}

/** `xmpp cluster initialize`: commands that give a new cluster's default settings the values of `f`. */
export function federationSeed(f: FederationConfig): ClusterCommand[] {
  const seed: ClusterCommand[] = [];
  if (f.dialbackSecret !== null) seed.push(setDialbackSecret(f.dialbackSecret));
  seed.push(
    setFederationEnabled(f.enabled),
    setSecurityMode(f.securityMode),
    setClientCertsRequired(f.clientCertsRequired),
    setSaslExternal('incoming', f.saslExternal.incoming),
    setSaslExternal('outgoing', f.saslExternal.outgoing),
    setPrivacyMode(f.privacyMode),
  );
  for (const e of f.allow) seed.push(addToPolicyList('allow', e.domain, e.direction));
  for (const e of f.deny) seed.push(addToPolicyList('deny', e.domain, e.direction));
  for (const r of f.routes) for (const t of r.targets) seed.push(addStaticRoute(r.domain, t));
  return seed;
}

/**
 * The changes that turn `from` into `to`, in an order every step accepts:
 * the secret before enabling (so enabling generates none), list entries
 * removed before any is added (the lists are exclusive), routes replaced
 * whole.
 */
export function federationDiff(from: FederationConfig, to: FederationConfig): FederationChange[] {
  const out: FederationChange[] = [];
  if (to.dialbackSecret !== null && to.dialbackSecret !== from.dialbackSecret) out.push({ type: 'dialback-secret', secret: to.dialbackSecret });
  if (to.enabled !== from.enabled) out.push({ type: 'enabled', enabled: to.enabled });
  if (to.securityMode !== from.securityMode) out.push({ type: 'security', mode: to.securityMode });
  if (to.clientCertsRequired !== from.clientCertsRequired) out.push({ type: 'client-certs', required: to.clientCertsRequired });
  for (const direction of ['incoming', 'outgoing'] as const) {
    if (to.saslExternal[direction] !== from.saslExternal[direction]) out.push({ type: 'sasl-external', direction, enabled: to.saslExternal[direction] });
  }
  if (to.privacyMode !== from.privacyMode) out.push({ type: 'privacy', mode: to.privacyMode });
  for (const list of ['allow', 'deny'] as const) {
    for (const e of from[list]) if (!to[list].some((w) => w.domain === e.domain && w.direction === e.direction)) out.push({ type: 'list-del', list, domain: e.domain });
  }
  for (const list of ['allow', 'deny'] as const) {
    for (const e of to[list]) if (!from[list].some((h) => h.domain === e.domain && h.direction === e.direction)) out.push({ type: 'list-add', list, domain: e.domain, direction: e.direction });
  }
  for (const r of from.routes) {
    const want = to.routes.find((w) => w.domain === r.domain);
    if (JSON.stringify(want?.targets) !== JSON.stringify(r.targets)) out.push({ type: 'route-del', domain: r.domain });
  }
  for (const r of to.routes) {
    const had = from.routes.find((h) => h.domain === r.domain);
    if (JSON.stringify(had?.targets) !== JSON.stringify(r.targets)) for (const target of r.targets) out.push({ type: 'route-add', domain: r.domain, target });
  }
  return out;
}
