/** The rules a component session checks stanzas and stream headers against. */

/**
 * What breaks the iq rules of RFC 6120 §8.2.3, or null. An iq without 'id'
 * is still answered: the error then has no id either (it cannot echo one),
 * so it matches no pending request and is never taken for another iq's
 * answer, while the call bridge's log shows why its request went nowhere;
 * silence would leave it waiting for its timeout. Errors are not checked:
 * they are never answered.
 */
export function iqProblem(attrs: Record<string, string>, children: number): string | null {
  const type = attrs.type;
  if (type === 'error') return null;
  if (attrs.id === undefined) return "an iq must have an 'id'";
  if (type === 'get' || type === 'set') return children === 1 ? null : `an iq of type '${type}' must have exactly one child element, not ${children}`;
  if (type === 'result') return children <= 1 ? null : 'an iq of type result may have at most one child element';
  return "an iq needs type 'get', 'set', 'result' or 'error'";
}

/**
 * The call bridge a stream header's `to` names: `cb1.<domain>`, or the bare
 * `cb1` that CMS's Call Bridge configuration uses. Null when `to` is neither.
 */
export function componentName(to: string, domain: string): string | null {
  if (to === '') return null;
  if (to.endsWith(`.${domain}`)) {
    const name = to.slice(0, -(domain.length + 1));
    return name.indexOf('.') === -1 && name.length > 0 ? name : null;
  }
  return to.indexOf('.') === -1 ? to : null;
}
