/**
 * What a federation peer's own log says about its two streams with one remote
 * domain: how the remote was found, whether TLS came up, and how each side
 * authenticated. Read from the debug/info lines Prosody 0.12 and ejabberd
 * 23.01 write, so a test can assert the mode it meant to set up was the one
 * the peers negotiated (not just that a message arrived).
 */

export interface StreamFacts {
  /** Both streams (outgoing and incoming) with the remote completed authentication. */
  established: boolean;
  /** The remote was found by its `_xmpp-server._tcp` SRV record (Prosody logs the answer; ejabberd does not, so undefined there). */
  foundBySrv?: boolean;
  /** TLS on the streams. */
  encrypted: boolean;
  /** How the outgoing stream authenticated (our side towards the remote). */
  outgoingAuth: 'dialback' | 'EXTERNAL' | 'none';
  /** How the remote authenticated to us on the incoming stream. */
  incomingAuth: 'dialback' | 'EXTERNAL' | 'none';
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** From a Prosody 0.12 debug log, for streams `local` ↔ `remote` (component or host names). */
export function prosodyStreamFacts(log: string, local: string, remote: string): StreamFacts {
  const out = new RegExp(`^.*\\b(s2sout[0-9a-f]+)\\s+info\\s+Outgoing s2s connection ${esc(local)}->${esc(remote)} complete`, 'm').exec(log);
  const inn = new RegExp(`^.*\\b(s2sin[0-9a-f]+)\\s+info\\s+Incoming s2s connection ${esc(remote)}->${esc(local)} complete`, 'm').exec(log);
  const session = (id: string | undefined) => (id ? log.split('\n').filter((l) => l.includes(id)) : []);
  const outLines = session(out?.[1]);
  const inLines = session(inn?.[1]);
  const outgoingAuth = log.includes(`SASL EXTERNAL with ${remote} succeeded`)
    ? 'EXTERNAL'
    : outLines.some((l) => l.includes('sent dialback key on outgoing s2s stream'))
      ? 'dialback'
      : 'none';
  // The incoming method, from that session's own lines: an EXTERNAL <auth/> answered with <success/>, or a db:result it asked the remote about.
  const incomingAuth =
    inLines.some((l) => /Received\[s2sin_unauthed\]: <auth [^>]*mechanism='EXTERNAL'/.test(l)) && inLines.some((l) => l.includes('Sending[s2sin_unauthed]: <success'))
      ? 'EXTERNAL'
      : inLines.some((l) => l.includes(`asking ${remote} if key`))
        ? 'dialback'
        : 'none';
  return {
    established: Boolean(out && inn),
    foundBySrv: log.includes(`Results for _xmpp-server._tcp.${remote} IN SRV: 1 items`),
    encrypted: [...outLines, ...inLines].filter((l) => /Stream encrypted \(TLSv1\.[23]/.test(l)).length >= 2,
    outgoingAuth,
    incomingAuth,
  };
}

/** From an ejabberd 23.01 log (info level is enough), for streams `local` ↔ `remote`. */
export function ejabberdStreamFacts(log: string, local: string, remote: string): StreamFacts {
  const accepted = (dir: 'outbound' | 'inbound', from: string, to: string) =>
    new RegExp(`\\((tls|tcp)\\|[^)]*\\) Accepted ${dir} s2s (dialback|EXTERNAL) authentication ${esc(from)} -> ${esc(to)}`).exec(log);
  const out = accepted('outbound', local, remote);
  const inn = accepted('inbound', remote, local);
  const method = (m: RegExpExecArray | null) => (m ? (m[2] as 'dialback' | 'EXTERNAL') : 'none');
  return {
    established: Boolean(out && inn),
    encrypted: out?.[1] === 'tls' && inn?.[1] === 'tls',
    outgoingAuth: method(out),
    incomingAuth: method(inn),
  };
}
