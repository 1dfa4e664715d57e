import type { EventEmitter } from 'node:events';
import { parseArgs } from 'node:util';
import { DNS_ERROR_LINE, parseDnsServer, type SrvLookupError } from '../dns/srv-lookup.js';
import { CallBridge, CallBridgeConnectError, type ReceivedMessage } from './call-bridge.js';
import { SrvCallBridge, type Attempt, type ConnectFailure, type Dropped, type SrvTargetAddress } from './srv-call-bridge.js';

/**
 * `xmpp-cluster bridge`: a simulated call bridge on the command line.
 * Prints each message it receives as one JSON line; with --send it sends
 * --count messages, with --expect it waits for that many, with --echo it
 * answers every message. Without --send or --expect it stays connected
 * until interrupted.
 *
 * `--server HOST:PORT` connects to one node and ends when that connection
 * drops. `--srv DOMAIN` finds the nodes by `_xmpp-component._tcp.DOMAIN` SRV
 * (through `--dns ADDR[:PORT]`, or the system's resolvers) and moves to the
 * next node whenever its own goes away, as a CMS call bridge with an empty
 * "Server address" does; it prints each move on standard error.
 */

/** What the exchange below needs of either kind of call bridge. */
interface Bridge extends EventEmitter {
  readonly address: string;
  sendMessage(to: string, body: string, id?: string): Promise<void>;
  close(): Promise<void>;
}

export async function runBridgeCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      name: { type: 'string' },
      secret: { type: 'string' },
      domain: { type: 'string' },
      server: { type: 'string' },
      srv: { type: 'string' },
      dns: { type: 'string' },
      'connect-timeout': { type: 'string', default: '2' },
      echo: { type: 'boolean', default: false },
      'bare-name': { type: 'boolean', default: false },
      send: { type: 'string' },
      count: { type: 'string', default: '1' },
      body: { type: 'string', default: 'hello' },
      expect: { type: 'string' },
      timeout: { type: 'string', default: '30' },
    },
    strict: true,
  });
  const secret = values.secret ?? process.env.XMPP_CALLBRIDGE_SECRET;
  const missing: string[] = (['name', 'domain'] as const).filter((k) => !values[k]);
  if (!values.server && !values.srv) missing.push('server');
  if (missing.length || !secret) {
    process.stderr.write(
      `Error: bridge needs --name, --secret (or XMPP_CALLBRIDGE_SECRET), --domain and --server (or --srv); missing: ${[...missing, ...(secret ? [] : ['secret'])].join(', ')}\n`,
    );
    return 2;
  }
  if (values.server && values.srv) {
    process.stderr.write(`Error: bridge takes --server HOST:PORT or --srv DOMAIN, not both\n`);
    return 2;
  }
  if (values.dns && !values.srv) {
    process.stderr.write(`Error: --dns chooses the resolver for --srv; it has no use with --server\n`);
    return 2;
  }
  const count = Number(values.count);
  const expect = values.expect === undefined ? undefined : Number(values.expect);
  const timeoutMs = Number(values.timeout) * 1000;

  let bridge: Bridge;
  let disconnected: Promise<void>;
  if (values.srv) {
    let dnsServers: string[] | undefined;
    try {
      dnsServers = values.dns ? [parseDnsServer(values.dns)] : undefined;
    } catch (err) {
      process.stderr.write(`Error: ${(err as Error).message}\n`);
      return 2;
    }
    const srvBridge = SrvCallBridge.start({
      name: values.name!,
      secret,
      domain: values.domain!,
      srvDomain: values.srv,
      dnsServers,
      connectTimeoutMs: Number(values['connect-timeout']) * 1000,
      sendWaitMs: timeoutMs,
      echo: values.echo,
      bareName: values['bare-name'],
      // A call bridge answers every iq get/set (RFC 6120 §8.2.3): a federated server's pings reach it.
      answerIq: true,
    });
    printMoves(srvBridge);
    bridge = srvBridge;
    // It reconnects by itself: only a signal or the --expect timeout ends it.
    disconnected = new Promise<void>(() => undefined);
  } else {
    const m = /^(.+):(\d+)$/.exec(values.server!);
    if (!m) {
      process.stderr.write(`Error: --server ${values.server}: expected HOST:PORT\n`);
      return 2;
    }
    let direct: CallBridge;
    try {
      direct = await CallBridge.connect({
        name: values.name!,
        secret,
        domain: values.domain!,
        host: m[1]!,
        port: Number(m[2]),
        echo: values.echo,
        bareName: values['bare-name'],
        answerIq: true,
      });
    } catch (err) {
      process.stderr.write(`${err instanceof CallBridgeConnectError ? err.message : String(err)}\n`);
      return 1;
    }
    process.stderr.write(`connected as ${direct.address}\n`);
    bridge = direct;
    disconnected = new Promise<void>((resolve) => direct.once('disconnected', () => resolve()));
  }
  // The call-bridge log's own words (reference: ports-and-names.md).
  bridge.on('stream-error', (err: { condition?: string; message?: string }) =>
    process.stderr.write(`XMPP component connection disconnected due to failure reason: "${err.condition ?? err.message}"\n`),
  );
  return exchange(bridge, disconnected, { send: values.send, count, body: values.body!, expect, timeoutMs });
}

/** Each move of an SRV call bridge, one line on standard error. */
function printMoves(bridge: SrvCallBridge): void {
  const write = (line: string) => process.stderr.write(`${line}\n`);
  const at = (t: SrvTargetAddress) => `${t.target} (${t.address.includes(':') ? `[${t.address}]` : t.address}:${t.port})`;
  bridge.on('attempt', (a: Attempt) => write(`trying ${at(a)}${a.left ? ` after ${a.left.reason} from ${a.left.target}` : ''}`));
  bridge.on('connected', (t: SrvTargetAddress) => write(`connected as ${bridge.address} to ${at(t)}`));
  bridge.on('connect-failed', (f: ConnectFailure) => write(f.message));
  bridge.on('dropped', (d: Dropped) => write(`XMPP connection dropped while session was live${d.condition ? ` (${d.condition})` : ''}`));
  // The seeds' pair of lines for every DNS failure.
  bridge.on('dns-error', (err: SrvLookupError) => {
    write(err.message);
    write(DNS_ERROR_LINE);
  });
}

interface Exchange {
  send: string | undefined;
  count: number;
  body: string;
  expect: number | undefined;
  timeoutMs: number;
}

async function exchange(bridge: Bridge, disconnected: Promise<void>, o: Exchange): Promise<number> {
  let received = 0;
  const enough = new Promise<void>((resolve) => {
    bridge.on('message', (msg: ReceivedMessage) => {
      process.stdout.write(JSON.stringify(msg) + '\n');
      received++;
      if (o.expect !== undefined && received >= o.expect) resolve();
    });
  });

  if (o.send) {
    try {
      for (let i = 0; i < o.count; i++) await bridge.sendMessage(o.send, o.count > 1 ? `${o.body} ${i + 1}` : o.body, `m${i + 1}`);
    } catch (err) {
      process.stderr.write(`Error: sending to ${o.send}: ${(err as Error).message}\n`);
      await bridge.close();
      return 1;
    }
  }
  if (o.expect !== undefined) {
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), o.timeoutMs).unref());
    const outcome = await Promise.race([enough.then(() => 'ok' as const), timer, disconnected.then(() => 'disconnected' as const)]);
    await bridge.close();
    if (outcome !== 'ok') {
      process.stderr.write(`Error: received ${received} of ${o.expect} messages (${outcome})\n`);
      return 1;
    }
    return 0;
  }
  if (o.send) {
    await bridge.close();
    return 0;
  }
  await Promise.race([
    disconnected,
    new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    }),
  ]);
  await bridge.close();
  return 0;
}
