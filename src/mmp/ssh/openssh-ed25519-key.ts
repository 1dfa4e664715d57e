import { createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';

/**
 * Ed25519 key pairs in OpenSSH's own formats: the private key file of
 * OpenSSH's PROTOCOL.key ("openssh-key-v1", unencrypted) and the
 * `ssh-ed25519 <base64> <comment>` public line (RFC 8709 §4).
 *
 * Why this is not `ssh2.utils.generateKeyPairSync('ed25519')`: ssh2 (1.17)
 * strips leading zero bytes from the 32-byte public key (lib/keygen.js,
 * parseDERs), so about one key in 256 is written with a 31-byte key that
 * ssh2's own parseKey and OpenSSH reject (mscdex/ssh2 issues 1390 and 1513,
 * open). node:crypto makes the key; this module lays out the bytes.
 * Why not PKCS8 PEM, which node:crypto writes itself: neither ssh2's parseKey
 * nor ssh-keygen reads an Ed25519 key in that form (mscdex/ssh2 issue 1303).
 *
 * This is the one place that knows about the ssh2 bug: it also recognises a
 * key file the bug wrote and rebuilds it from its intact 32-byte seed.
 */

export interface OpenSshKeyPair {
  /** The private key file's text, ending in a newline. */
  private: string;
  /** `ssh-ed25519 <base64> <comment>`, no newline. */
  public: string;
}

const KEY_TYPE = 'ssh-ed25519';
const MAGIC = Buffer.from('openssh-key-v1\0', 'latin1');
const BEGIN = '-----BEGIN OPENSSH PRIVATE KEY-----';
const END = '-----END OPENSSH PRIVATE KEY-----';
const KEY_BYTES = 32;
// Unencrypted keys pad the private section to 8 bytes (PROTOCOL.key; sshkey.c uses the cipher block size, 8 for "none").
const BLOCK = 8;
// RFC 8410 §7: PKCS8 for Ed25519 is this fixed prefix followed by the 32-byte seed.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * A new key from 32 random bytes (an Ed25519 private key is its seed, RFC
 * 8032 §5.1.5), not from generateKeyPairSync: Node 20.20 can deadlock when a
 * garbage collection runs inside `export({ format: 'jwk' })` of a key whose
 * KeyGenJob is dead but not yet collected. ExportJWK holds the key's mutex
 * while it allocates, and the job's destructor, run by that collection, takes
 * the same mutex (gdb on a CI worker stuck for minutes: KeyGenJob::~KeyGenJob
 * under KeyObjectHandle::ExportJWK). We found no upstream report. A key made
 * by createPrivateKey has no KeyGenJob, so nothing can take its mutex then.
 */
export function generateEd25519Key(comment: string): OpenSshKeyPair {
  return encodeEd25519Key(createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, randomBytes(KEY_BYTES)]), format: 'der', type: 'pkcs8' }), comment);
}

/** `checkInt` is random in use; OpenSSH reads it only to tell a wrong passphrase, so any value is valid. */
export function encodeEd25519Key(privateKey: KeyObject, comment: string, checkInt: Buffer = randomBytes(4)): OpenSshKeyPair {
  const jwk = privateKey.export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.d !== 'string' || typeof jwk.x !== 'string') throw new TypeError('not an Ed25519 private key');
  const seed = Buffer.from(jwk.d, 'base64url');
  const pub = Buffer.from(jwk.x, 'base64url');
  if (seed.length !== KEY_BYTES || pub.length !== KEY_BYTES) throw new TypeError('an Ed25519 key has 32-byte halves');

  const publicBlob = Buffer.concat([sshString(KEY_TYPE), sshString(pub)]);
  const body = Buffer.concat([
    checkInt, checkInt,
    sshString(KEY_TYPE), sshString(pub),
    sshString(Buffer.concat([seed, pub])),
    sshString(comment),
  ]);
  const padding = Buffer.from(Array.from({ length: (BLOCK - (body.length % BLOCK)) % BLOCK }, (_, i) => i + 1));
  const file = Buffer.concat([
    MAGIC,
    sshString('none'), sshString('none'), sshString(Buffer.alloc(0)),
    uint32(1),
    sshString(publicBlob),
    sshString(Buffer.concat([body, padding])),
  ]);
  // OpenSSH wraps the base64 at 70 columns.
  const lines = file.toString('base64').match(/.{1,70}/g) ?? [];
  return {
    private: [BEGIN, ...lines, END, ''].join('\n'),
    public: `${KEY_TYPE} ${publicBlob.toString('base64')}${comment ? ` ${comment}` : ''}`,
  };
}

/**
 * A key file written by ssh2's generator with leading zeros stripped from
 * the public key, rebuilt from its seed: the same key pair, so the same
 * fingerprint. Undefined for anything else, which stays the caller's error.
 */
export function repairSsh2StrippedKey(text: string): OpenSshKeyPair | undefined {
  const parsed = readUnencryptedEd25519(text);
  if (!parsed) return undefined;
  const { pub, secret, comment } = parsed;
  if (pub.length >= KEY_BYTES || secret.length !== KEY_BYTES + pub.length) return undefined;
  const seed = secret.subarray(0, KEY_BYTES);
  if (!secret.subarray(KEY_BYTES).equals(pub)) return undefined;
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const derived = Buffer.from(createPublicKey(privateKey).export({ format: 'jwk' }).x as string, 'base64url');
  const stripped = KEY_BYTES - pub.length;
  // Only the bug's exact damage: what is missing is zeros, and the rest is the seed's public key.
  if (!derived.subarray(0, stripped).equals(Buffer.alloc(stripped)) || !derived.subarray(stripped).equals(pub)) return undefined;
  return encodeEd25519Key(privateKey, comment);
}

function readUnencryptedEd25519(text: string): { pub: Buffer; secret: Buffer; comment: string } | undefined {
  const trimmed = text.trim();
  if (!trimmed.startsWith(BEGIN) || !trimmed.endsWith(END)) return undefined;
  const data = Buffer.from(trimmed.slice(BEGIN.length, -END.length).replace(/\s+/g, ''), 'base64');
  if (!data.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const reader = new SshReader(data, MAGIC.length);
  if (reader.text() !== 'none' || reader.text() !== 'none' || reader.bytes()?.length !== 0 || reader.uint32() !== 1) return undefined;
  // The public blob before the private section repeats the key; the section is what is checked.
  if (!reader.bytes()) return undefined;
  const section = reader.bytes();
  if (!section) return undefined;
  const inner = new SshReader(section, 0);
  const check1 = inner.uint32();
  if (check1 === undefined || check1 !== inner.uint32() || inner.text() !== KEY_TYPE) return undefined;
  const pub = inner.bytes();
  const secret = inner.bytes();
  const comment = inner.text();
  if (!pub || !secret || comment === undefined) return undefined;
  return { pub, secret, comment };
}

/** Reads SSH wire fields (RFC 4251 §5); undefined once the data runs out. */
class SshReader {
  constructor(private readonly data: Buffer, private pos: number) {}

  uint32(): number | undefined {
    if (this.pos + 4 > this.data.length) return undefined;
    const value = this.data.readUInt32BE(this.pos);
    this.pos += 4;
    return value;
  }

  bytes(): Buffer | undefined {
    const length = this.uint32();
    if (length === undefined || this.pos + length > this.data.length) return undefined;
    const value = this.data.subarray(this.pos, this.pos + length);
    this.pos += length;
    return value;
  }

  text(): string | undefined {
    return this.bytes()?.toString('utf8');
  }
}

function uint32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value);
  return out;
}

function sshString(value: string | Buffer): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([uint32(bytes.length), bytes]);
}
