import { checkKeyAndCertificate } from '../pki/credentials.js';
import type { XmppNode } from '../node/xmpp-node.js';
import type { CommandSpec } from './command.js';
import { callbridgeCommands } from './commands/callbridge.js';
import { clusterCommands } from './commands/cluster.js';
import { dnsCommands } from './commands/dns.js';
import { dnsCheckCommand } from './commands/dns-check.js';
import { federationCommands } from './commands/federation.js';
import { pkiCommands } from './commands/pki.js';
import { userCommands } from './commands/user.js';
import { xmppCommands } from './commands/xmpp.js';
import { Interpreter } from './interpreter.js';
import type { UserStore } from './users.js';

/** Every command a node's MMP offers, whichever door (SSH, local socket, CLI) it is reached through. */
/** `now`: the clock certificate expiry warnings are judged by (tests set it). */
export function nodeInterpreter(node: XmppNode, options: { users?: UserStore; extra?: CommandSpec[]; now?: () => Date } = {}): Interpreter {
  const now = options.now;
  return new Interpreter([
    ...xmppCommands({ node, checkCertificates: checkKeyAndCertificate, ...(now ? { now } : {}) }),
    ...callbridgeCommands({ node }),
    ...clusterCommands({ node, ...(now ? { now } : {}) }),
    ...dnsCommands({ node }),
    dnsCheckCommand(),
    ...federationCommands({ node }),
    ...pkiCommands({ certFolder: node.certFolder }),
    ...(options.users ? userCommands({ users: options.users }) : []),
    ...(options.extra ?? []),
  ]);
}
