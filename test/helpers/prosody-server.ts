import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureLoopbackAddress } from './bind-server.js';
import { accepts, describePeer, freeTcpPort, PortTakenError, spawnPeer, waitForLog, waitForPeer, type PeerProcess } from './peer-process.js';

/**
 * A real Prosody 0.12 (Debian's /usr/bin/prosody) as a federation peer: one
 * VirtualHost, optional XEP-0114 components under it, s2s on its own loopback
 * address, c2s only when the test wants users. The config is generated in a
 * temp dir; Prosody runs in the foreground (-F) as a child of the test.
 *
 * Name resolution: Prosody 0.12 has no static s2s routes in core (Debian's
 * prosody-modules lacks mod_s2soutinjection), so peers are found through DNS,
 * as RFC 6120 §3.2 says: with lua-unbound installed Prosody resolves through
 * libunbound (net/unbound.lua), configured by the global `unbound` table, and
 * `forward = "ip@port"` sends every query to the test's named
 * (federation-dns.ts) without touching /etc/resolv.conf or /etc/hosts
 * (`resolvconf = false, hoststxt = false`); `options` are libunbound's
 * own (`local-zone:` below).
 */

const PROSODY = '/usr/bin/prosody';

export interface ProsodyComponent {
  /** The component address is `<name>.<domain>`. */
  name: string;
  secret: string;
}

export interface ProsodyS2s {
  /** `s2s_require_encryption`: refuse streams without TLS both ways. Default true (Prosody's own default). */
  requireEncryption?: boolean;
  /** `s2s_secure_auth`: only certificate authentication (SASL EXTERNAL); no dialback fallback. Default false. */
  secureAuth?: boolean;
  /** Load mod_dialback (XEP-0220). Default true. */
  dialback?: boolean;
  /** Domains exempt from secureAuth (`s2s_insecure_domains`). */
  insecureDomains?: string[];
  /** TLS: the CA the peer's certificates must chain to, and this server's certificate (SANs: the domain and its components). Omitted: no TLS at all. */
  tls?: { caFile: string; certFile: string; keyFile: string };
  /** The s2s port; 5269 unless given (each peer has its own address, so 5269 never collides). */
  port?: number;
}

export interface ProsodyOptions {
  domain: string;
  /** A loopback address of the test's own range: every listener binds it only. */
  address: string;
  components?: ProsodyComponent[];
  /** Accounts on the VirtualHost; when given, c2s listens on a free port of `address`. */
  users?: Array<{ user: string; password: string }>;
  s2s?: ProsodyS2s;
  /**
   * The test's DNS (a FederationDns fits): every query goes to `forward`
   * (`ip@port`). `origin` is the zone it serves; libunbound answers names
   * under the RFC 6761 special-use `test.` itself (NXDOMAIN, a default
   * local-zone), so that zone is made transparent. Without `dns` Prosody can
   * resolve nothing (no resolv.conf, no /etc/hosts).
   */
  dns?: { forward: string; origin: string };
  /** Prosody's log level into the log file; default debug (every stanza on the wire, for failing tests). */
  logLevel?: 'debug' | 'info' | 'warn';
  /** Extra Lua lines for the global section (a test's own knob). */
  extraGlobal?: string[];
  timeoutMs?: number;
}

export interface ProsodyServer {
  readonly domain: string;
  readonly address: string;
  readonly s2sPort: number;
  /** 0 when no components were asked for. */
  readonly componentPort: number;
  /** 0 when no users were asked for. */
  readonly c2sPort: number;
  readonly dir: string;
  readonly configFile: string;
  readonly process: PeerProcess;
  /** From spawn to every port accepting connections. */
  readonly startupMs: number;
  /** Prosody's log so far. */
  log(): string;
  /** Waits (bounded) for a log line that `pattern` matches. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startProsody(options: ProsodyOptions): Promise<ProsodyServer> {
  await ensureLoopbackAddress(options.address);
  const dir = await mkdtemp(join(tmpdir(), `prosody-${options.domain}-`));
  let lastError: Error | undefined;
  // Free ports are probed, then bound by Prosody a moment later: retry on a clash.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startIn(dir, options);
    } catch (err) {
      lastError = err as Error;
      if (!(err instanceof PortTakenError) || err.port === (options.s2s?.port ?? 5269)) break;
    }
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError!;
}

async function startIn(dir: string, options: ProsodyOptions): Promise<ProsodyServer> {
  const s2sPort = options.s2s?.port ?? 5269;
  // Prosody opens component_ports only once a Component host exists.
  const componentPort = options.components?.length ? await freeTcpPort(options.address) : 0;
  const c2sPort = options.users?.length ? await freeTcpPort(options.address) : 0;
  const configFile = join(dir, 'prosody.cfg.lua');
  const logFile = join(dir, 'prosody.log');
  await mkdir(join(dir, 'data'), { recursive: true });
  await mkdir(join(dir, 'certs'), { recursive: true });
  await writeAccounts(join(dir, 'data'), options.domain, options.users ?? []);
  await writeFile(configFile, prosodyConfig({ ...options, dir, logFile, s2sPort, componentPort, c2sPort }));
  await rm(logFile, { force: true });
  const started = Date.now();
  const peer = spawnPeer({ name: 'prosody', command: PROSODY, args: ['-F', '--config', configFile], cwd: dir, logFile });
  const ports = [s2sPort, ...(componentPort ? [componentPort] : []), ...(c2sPort ? [c2sPort] : [])];
  try {
    await waitForPeer(
      peer,
      `prosody ${options.domain}`,
      async () => {
        const log = peer.log();
        // portmanager logs the failure and Prosody runs on without that port.
        const taken = /Failed to open server port (\d+) on [^\n]*/.exec(log);
        if (taken) throw new PortTakenError(Number(taken[1]), `prosody ${options.domain} could not listen on ${options.address}:${taken[1]} (${taken[0]})\n${describePeer(peer)}`);
        // portmanager's "Activated service '<name>' on [<address>]:<port>" comes once a port is bound; then the port must answer.
        if (!ports.every((p) => log.includes(`on [${options.address}]:${p}`))) return false;
        for (const p of ports) if (!(await accepts(options.address, p))) return false;
        return true;
      },
      options.timeoutMs ?? 20_000,
    );
  } catch (err) {
    await peer.stop();
    throw err;
  }
  const startupMs = Date.now() - started;
  return {
    domain: options.domain,
    address: options.address,
    s2sPort,
    componentPort,
    c2sPort,
    dir,
    configFile,
    process: peer,
    startupMs,
    log: peer.log,
    waitForLog: (pattern, timeoutMs = 15_000) => waitForLog(peer, (l) => pattern.test(l), timeoutMs, `prosody log line ${pattern}`),
    stop: async () => {
      await peer.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

interface ConfigInputs extends ProsodyOptions {
  dir: string;
  logFile: string;
  s2sPort: number;
  componentPort: number;
  c2sPort: number;
}

/** The whole prosody.cfg.lua; every option named as Prosody 0.12 documents it. */
export function prosodyConfig(c: ConfigInputs): string {
  const s2s = c.s2s ?? {};
  const lua = (s: string) => JSON.stringify(s); // a JSON string is a valid Lua string literal for these paths and names
  const list = (items: Array<string | number>) => `{ ${items.map((i) => (typeof i === 'number' ? String(i) : lua(i))).join(', ')} }`;
  const modules = ['s2s', 'ping', 'saslauth', ...(s2s.dialback === false ? [] : ['dialback']), ...(s2s.tls ? ['tls'] : [])];
  if (c.c2sPort) modules.push('c2s', 'roster', 'presence', 'message', 'disco');
  const disabled = ['offline', ...(c.c2sPort ? [] : ['c2s'])];
  const ssl = (host: string) =>
    s2s.tls ? `  ssl = { key = ${lua(s2s.tls.keyFile)}; certificate = ${lua(s2s.tls.certFile)}; cafile = ${lua(s2s.tls.caFile)}; }\n` : `  -- ${host}: no certificate, so no TLS\n`;
  const lines = [
    `-- Generated by test/helpers/prosody-server.ts for ${c.domain}`,
    // The tests run as root (for ip addr add); Prosody refuses that unless told (mod_posix).
    `run_as_root = true`,
    `pidfile = ${lua(join(c.dir, 'prosody.pid'))}`,
    `data_path = ${lua(join(c.dir, 'data'))}`,
    `certificates = ${lua(join(c.dir, 'certs'))}`,
    `log = { ${c.logLevel ?? 'debug'} = ${lua(c.logFile)} }`,
    `plugin_paths = { }`,
    `interfaces = ${list([c.address])}`,
    `local_interfaces = ${list([c.address])}`,
    `s2s_ports = ${list([c.s2sPort])}`,
    `s2s_interfaces = ${list([c.address])}`,
    `s2s_direct_tls_ports = { }`,
    `c2s_ports = ${list(c.c2sPort ? [c.c2sPort] : [])}`,
    `c2s_direct_tls_ports = { }`,
    `c2s_interfaces = ${list([c.address])}`,
    `component_ports = ${list(c.componentPort ? [c.componentPort] : [])}`,
    `component_interfaces = ${list([c.address])}`,
    `http_ports = { }`,
    `https_ports = { }`,
    `modules_enabled = ${list(modules)}`,
    `modules_disabled = ${list(disabled)}`,
    `authentication = "internal_plain"`,
    `c2s_require_encryption = false`,
    `allow_unencrypted_plain_auth = true`,
    `s2s_require_encryption = ${s2s.requireEncryption ?? true}`,
    `s2s_secure_auth = ${s2s.secureAuth ?? false}`,
    `s2s_insecure_domains = ${list(s2s.insecureDomains ?? [])}`,
    // Dialback and stream setup in a test: a dead peer fails fast rather than after 90 s.
    `s2s_timeout = 20`,
    c.dns
      ? `unbound = { resolvconf = false; hoststxt = false; forward = ${lua(c.dns.forward)}; options = { ["local-zone:"] = ${lua(`${c.dns.origin}. transparent`)} }; }`
      : `unbound = { resolvconf = false; hoststxt = false; }`,
    ...(c.extraGlobal ?? []),
    ``,
    `VirtualHost ${lua(c.domain)}`,
    ssl(c.domain),
  ];
  for (const comp of c.components ?? []) {
    lines.push(`Component ${lua(`${comp.name}.${c.domain}`)}`, `  component_secret = ${lua(comp.secret)}`, ssl(`${comp.name}.${c.domain}`));
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Accounts as Prosody's internal_plain store keeps them
 * (data/<host, %-encoded>/accounts/<user>.dat), so no prosodyctl (which would
 * want to switch to the prosody user) is needed.
 */
async function writeAccounts(dataDir: string, domain: string, users: Array<{ user: string; password: string }>): Promise<void> {
  if (!users.length) return;
  const encode = (s: string) => s.replace(/[^a-zA-Z0-9]/g, (ch) => `%${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
  const accounts = join(dataDir, encode(domain), 'accounts');
  await mkdir(accounts, { recursive: true });
  for (const u of users) {
    await writeFile(join(accounts, `${encode(u.user)}.dat`), `return { ["password"] = ${JSON.stringify(u.password)}; };\n`);
  }
}
