/**
 * What a member says about itself when it is added: its node name, where its
 * cluster link listens and where it serves call bridges. It travels in the
 * Raft conf change's `context` as JSON, so every node learns it from the log
 * and lists the same peers in `xmpp cluster status`.
 */

export interface MemberInfo {
  /** The node's name (`cb1`). */
  readonly name: string;
  /** `host:port` of its cluster link. */
  readonly cluster: string;
  /** `host:port`: its address and first component port, as `cluster status` lists it. */
  readonly component: string;
}

export function encodeMemberInfo(info: MemberInfo): string {
  return JSON.stringify({ name: info.name, cluster: info.cluster, component: info.component });
}

/**
 * Reads a conf change's context. Deterministic on every input, as apply must
 * be: a context that is not our JSON (an older bootstrap's plain address) is
 * kept as the cluster address with no name.
 */
export function decodeMemberInfo(context: string | undefined): MemberInfo {
  if (context === undefined || context === '') return { name: '', cluster: '', component: '' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(context);
  } catch {
    return { name: '', cluster: context, component: '' };
  }
  if (typeof parsed !== 'object' || parsed === null) return { name: '', cluster: context, component: '' };
  const r = parsed as Record<string, unknown>;
  const field = (k: string) => (typeof r[k] === 'string' ? (r[k] as string) : '');
  return { name: field('name'), cluster: field('cluster'), component: field('component') };
}
