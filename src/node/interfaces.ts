import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { OperatorError } from '../base/operator-error.js';

/**
 * What `xmpp listen` accepts (reference: ports-and-names.md, "Interfaces"):
 * a CMS interface letter a–d, mapped to an address when the node starts
 * (`--iface a=127.0.0.1`); a Linux interface name; or a literal address.
 */

export type InterfaceLetters = Readonly<Record<string, string>>;

const LETTERS = ['a', 'b', 'c', 'd'];

/** The addresses one interface word stands for; OperatorError if it stands for none. */
export function resolveInterface(word: string, letters: InterfaceLetters): string[] {
  if (LETTERS.includes(word)) {
    const address = letters[word];
    if (!address) throw new OperatorError(`interface ${word} is not mapped to an address on this node; start the node with --iface ${word}=<address>`);
    return [address];
  }
  if (isIP(word)) {
    if (!isLocalAddress(word)) throw new OperatorError(`${word} is not an address of this machine`);
    return [word];
  }
  const nic = networkInterfaces()[word];
  if (nic) {
    const addresses = nic.filter((a) => a.family === 'IPv4' || !a.address.startsWith('fe80:')).map((a) => a.address);
    if (addresses.length === 0) throw new OperatorError(`interface ${word} has no usable address`);
    return addresses;
  }
  throw new OperatorError(`unknown interface '${word}': use a, b, c or d, a network interface name (${Object.keys(networkInterfaces()).join(', ')}), or an IP address of this machine`);
}

/** Every address of a list of interface words, each once, in order. */
export function resolveInterfaces(words: readonly string[], letters: InterfaceLetters): string[] {
  const out: string[] = [];
  for (const w of words) for (const a of resolveInterface(w, letters)) if (!out.includes(a)) out.push(a);
  return out;
}

function isLocalAddress(address: string): boolean {
  // All of 127.0.0.0/8 is loopback on Linux: a lab gives each node its own.
  if (address.startsWith('127.') || address === '::1' || address === '0.0.0.0' || address === '::') return true;
  return Object.values(networkInterfaces()).some((list) => list?.some((a) => a.address === address));
}
