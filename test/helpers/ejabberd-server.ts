import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureLoopbackAddress } from './bind-server.js';
import { accepts, describePeer, freeTcpPort, PortTakenError, spawnPeer, waitForLog, waitForPeer, type PeerProcess } from './peer-process.js';

/**
 * A real ejabberd 23.01 (Debian's) as a federation peer: one host, optional
 * XEP-0114 components (ejabberd_service), s2s (ejabberd_s2s_in) on its own
 * loopback address. ejabberd.yml is generated in a temp dir.
 *
 * Started as `erl ... -s ejabberd` directly, not through ejabberdctl: that
 * script switches to the ejabberd user (which cannot read the test's temp
 * dir) and, finding a registered node it thinks dead, runs `epmd -kill`,
 * which would take down every other test's node. Without `-sname` the VM
 * runs undistributed (`nonode@nohost`), so it needs no epmd and no unique
 * node name, and ejabberd runs fine so (mnesia is local).
 *
 * Name resolution takes two resolvers in ejabberd 23.01 (p1_xmpp 1.6.1's
 * xmpp_stream_out): the `_xmpp-server._tcp` SRV query goes through Erlang's
 * own inet_res, configured by the inetrc file that ERL_INETRC names
 * (`{nameserver, IP, Port}`; `{resolv_conf, ""}` must come before it, or it
 * resets the list to resolv.conf's); but the SRV target's (or the domain's)
 * address comes from `net:getaddrinfo`, which is glibc's getaddrinfo: it
 * reads /etc/resolv.conf and takes no port. So ejabberd runs in a mount
 * namespace of its own (`unshare --mount`, root) where a resolv.conf of the
 * test's is bind-mounted over /etc/resolv.conf, naming the test's named,
 * which must then listen on port 53 of its own loopback address. Nothing
 * outside that process sees the change; /etc/hosts is not touched (our
 * names are not in it, so glibc goes on to DNS).
 */

const ERL = '/usr/bin/erl';
// Where Debian puts ejabberd's and its p1 libraries' code (ejabberdctl sets the same).
const ERL_LIBS = '/usr/lib/x86_64-linux-gnu';

export interface EjabberdComponent {
  /** The component address is `<name>.<domain>`. */
  name: string;
  secret: string;
}

export interface EjabberdS2s {
  /** `s2s_use_starttls`: false (never), optional, required. Default required when `tls` is given, else false. */
  starttls?: false | 'optional' | 'required';
  /** Load mod_s2s_dialback (XEP-0220). Default true. Without it only SASL EXTERNAL authenticates. */
  dialback?: boolean;
  /** TLS: the CA peers' certificates must chain to (`ca_file`, SASL EXTERNAL), and this server's certificate and key in one PEM (`certfiles`). */
  tls?: { caFile: string; pemFile: string };
  /** The s2s port; 5269 unless given. */
  port?: number;
}

export interface EjabberdOptions {
  domain: string;
  /** A loopback address of the test's own range: listeners bind it, outgoing s2s leaves from it. */
  address: string;
  components?: EjabberdComponent[];
  s2s?: EjabberdS2s;
  /** The test's named (FederationDns#address and #port, which must be 53: see above). Without it ejabberd can resolve nothing. */
  dns?: { address: string; port: number };
  loglevel?: 'debug' | 'info' | 'warning';
  timeoutMs?: number;
}

export interface EjabberdServer {
  readonly domain: string;
  readonly address: string;
  readonly s2sPort: number;
  /** 0 when no components were asked for (then there is no component listener). */
  readonly componentPort: number;
  readonly dir: string;
  readonly configFile: string;
  readonly process: PeerProcess;
  /** From spawn to every port accepting connections. */
  readonly startupMs: number;
  /** ejabberd's log so far. */
  log(): string;
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startEjabberd(options: EjabberdOptions): Promise<EjabberdServer> {
  await ensureLoopbackAddress(options.address);
  const dir = await mkdtemp(join(tmpdir(), `ejabberd-${options.domain}-`));
  let lastError: Error | undefined;
  // The component port is probed free, then bound by ejabberd a moment later: retry on a clash.
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

async function startIn(dir: string, options: EjabberdOptions): Promise<EjabberdServer> {
  if (options.dns && options.dns.port !== 53) {
    throw new Error(`ejabberd resolves SRV targets with glibc, which only queries port 53: start the test's named on ${options.dns.address}:53 (startFederationDns({ port: 53 }))`);
  }
  const s2sPort = options.s2s?.port ?? 5269;
  const componentPort = options.components?.length ? await freeTcpPort(options.address) : 0;
  const spool = join(dir, 'spool');
  const logs = join(dir, 'logs');
  await rm(spool, { recursive: true, force: true });
  await rm(logs, { recursive: true, force: true });
  await mkdir(spool, { recursive: true });
  await mkdir(logs, { recursive: true });
  const configFile = join(dir, 'ejabberd.yml');
  const inetrc = join(dir, 'inetrc');
  const logFile = join(logs, 'ejabberd.log');
  await writeFile(configFile, ejabberdConfig({ ...options, s2sPort, componentPort }));
  await writeFile(inetrc, erlangInetrc(options.dns));
  const resolvConf = join(dir, 'resolv.conf');
  // No nameserver at all without dns: glibc then tries 127.0.0.1, which answers nothing of ours.
  await writeFile(resolvConf, `${options.dns ? `nameserver ${options.dns.address}\n` : ''}options timeout:2 attempts:1\n`);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir,
    ERL_LIBS,
    ERL_INETRC: inetrc,
    EJABBERD_CONFIG_PATH: configFile,
    EJABBERD_LOG_PATH: logFile,
    ERL_CRASH_DUMP: join(logs, 'erl_crash.dump'),
    ERL_CRASH_DUMP_BYTES: '0',
  };
  const started = Date.now();
  const peer = spawnPeer({
    name: 'ejabberd',
    command: '/usr/bin/unshare',
    // unshare(2) then exec, and sh execs erl, which execs the VM: one pid throughout, so stop()'s SIGTERM reaches the VM (a clean stop).
    // erl's arguments as ejabberdctl's `foreground`, minus -sname: +K poll, -noinput, mnesia in the spool, then ejabberd.
    args: [
      '--mount', '--propagation', 'private', '/bin/sh', '-c', 'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolvConf,
      ERL, '-noinput', '-noshell', '+K', 'true', '-mnesia', 'dir', JSON.stringify(spool), '-s', 'ejabberd',
    ],
    cwd: dir,
    env,
    logFile,
  });
  try {
    await waitForPeer(
      peer,
      `ejabberd ${options.domain}`,
      async () => {
        const log = peer.log();
        // ejabberd then stops with "Failed to start ejabberd application"; say which port rather than only "exited".
        // The log file may lag when the VM stops at once; the console (stdout) has the same lines.
        const taken = /Failed to open socket at \S+?:(\d+) for \S+: address already in use/.exec(`${log}\n${peer.output()}`);
        if (taken) throw new PortTakenError(Number(taken[1]), `ejabberd ${options.domain} could not listen on ${options.address}:${taken[1]} (${taken[0]})\n${describePeer(peer)}`);
        // "is started in the node", then one "Start accepting TCP connections at <ip>:<port>" per listener.
        if (!/ejabberd \S+ is started in the node/.test(log)) return false;
        for (const p of [s2sPort, ...(componentPort ? [componentPort] : [])]) {
          if (!log.includes(`Start accepting TCP connections at ${options.address}:${p} `)) return false;
          if (!(await accepts(options.address, p))) return false;
        }
        return true;
      },
      options.timeoutMs ?? 30_000,
    );
  } catch (err) {
    await peer.stop();
    throw err;
  }
  return {
    domain: options.domain,
    address: options.address,
    s2sPort,
    componentPort,
    dir,
    configFile,
    process: peer,
    startupMs: Date.now() - started,
    log: peer.log,
    waitForLog: (pattern, timeoutMs = 15_000) => waitForLog(peer, (l) => pattern.test(l), timeoutMs, `ejabberd log line ${pattern}`),
    stop: async () => {
      await peer.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Erlang's resolver configuration (kernel's inet_res, "Inet Configuration"):
 * no resolv.conf, no hosts file, DNS only, the test's named as the one
 * nameserver.
 */
export function erlangInetrc(dns?: { address: string; port: number }): string {
  const lines = ['{resolv_conf, ""}.', '{hosts_file, ""}.'];
  if (dns) lines.push(`{nameserver, {${dns.address.split('.').join(',')}}, ${dns.port}}.`);
  lines.push('{lookup, [dns]}.');
  return `${lines.join('\n')}\n`;
}

interface ConfigInputs extends EjabberdOptions {
  s2sPort: number;
  componentPort: number;
}

/** ejabberd.yml; YAML written as JSON values (a JSON string is a YAML string), every option as ejabberd 23.01 names it. */
export function ejabberdConfig(c: ConfigInputs): string {
  const s2s = c.s2s ?? {};
  const q = (s: string) => JSON.stringify(s);
  const starttls = s2s.starttls ?? (s2s.tls ? 'required' : false);
  const services = (c.components ?? []).map((comp) => `      ${q(`${comp.name}.${c.domain}`)}:\n        password: ${q(comp.secret)}`);
  const lines = [
    `# Generated by test/helpers/ejabberd-server.ts for ${c.domain}`,
    `hosts:`,
    `  - ${q(c.domain)}`,
    `loglevel: ${c.loglevel ?? 'debug'}`,
    `log_rotate_count: 0`,
    `hide_sensitive_log_data: true`,
    ...(s2s.tls ? [`certfiles:`, `  - ${q(s2s.tls.pemFile)}`, `ca_file: ${q(s2s.tls.caFile)}`] : []),
    `s2s_use_starttls: ${starttls}`,
    `outgoing_s2s_families: [ipv4]`,
    `outgoing_s2s_ipv4_address: ${q(c.address)}`,
    // A test peer that does not answer fails in seconds, not ejabberd's default minutes.
    `s2s_dns_timeout: 5`,
    `s2s_dns_retries: 1`,
    `outgoing_s2s_timeout: 10`,
    `s2s_max_retry_delay: 2`,
    `listen:`,
    `  -`,
    `    port: ${c.s2sPort}`,
    `    ip: ${q(c.address)}`,
    `    module: ejabberd_s2s_in`,
    ...(services.length ? [`  -`, `    port: ${c.componentPort}`, `    ip: ${q(c.address)}`, `    module: ejabberd_service`, `    hosts:`, ...services] : []),
    `acl:`,
    `  local:`,
    `    user_regexp: ""`,
    `access_rules:`,
    `  s2s:`,
    `    allow: all`,
    `s2s_access: s2s`,
    `modules:`,
    ...(s2s.dialback === false ? [] : [`  mod_s2s_dialback: {}`]),
    `  mod_ping: {}`,
    `  mod_disco: {}`,
  ];
  return `${lines.join('\n')}\n`;
}
