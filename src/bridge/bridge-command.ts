import { parseArgs } from 'node:util';
import { CallBridge, CallBridgeConnectError, type ReceivedMessage } from './call-bridge.js';

/**
 * `xmpp-cluster bridge`: a simulated call bridge on the command line.
 * Prints each message it receives as one JSON line; with --send it sends
 * --count messages, with --expect it waits for that many, with --echo it
 * answers every message. Without --send or --expect it stays connected
 * until interrupted.
 */
export async function runBridgeCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      name: { type: 'string' },
      secret: { type: 'string' },
      domain: { type: 'string' },
      server: { type: 'string' },
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
  const missing = (['name', 'domain', 'server'] as const).filter((k) => !values[k]);
  if (missing.length || !secret) {
    process.stderr.write(`Error: bridge needs --name, --secret (or XMPP_CALLBRIDGE_SECRET), --domain and --server; missing: ${[...missing, ...(secret ? [] : ['secret'])].join(', ')}\n`);
    return 2;
  }
  const m = /^(.+):(\d+)$/.exec(values.server!);
  if (!m) {
    process.stderr.write(`Error: --server ${values.server}: expected HOST:PORT\n`);
    return 2;
  }
  const count = Number(values.count);
  const expect = values.expect === undefined ? undefined : Number(values.expect);
  const timeoutMs = Number(values.timeout) * 1000;

  let bridge: CallBridge;
  try {
    bridge = await CallBridge.connect({
      name: values.name!,
      secret,
      domain: values.domain!,
      host: m[1]!,
      port: Number(m[2]),
      echo: values.echo,
      bareName: values['bare-name'],
    });
  } catch (err) {
    process.stderr.write(`${err instanceof CallBridgeConnectError ? err.message : String(err)}\n`);
    return 1;
  }
  process.stderr.write(`connected as ${bridge.address}\n`);
  // The call-bridge log's own words (reference: ports-and-names.md).
  bridge.on('stream-error', (err: { condition?: string; message?: string }) =>
    process.stderr.write(`XMPP component connection disconnected due to failure reason: "${err.condition ?? err.message}"\n`),
  );

  let received = 0;
  const enough = new Promise<void>((resolve) => {
    bridge.on('message', (msg: ReceivedMessage) => {
      process.stdout.write(JSON.stringify(msg) + '\n');
      received++;
      if (expect !== undefined && received >= expect) resolve();
    });
  });
  const disconnected = new Promise<void>((resolve) => bridge.once('disconnected', () => resolve()));

  if (values.send) {
    for (let i = 0; i < count; i++) await bridge.sendMessage(values.send, count > 1 ? `${values.body} ${i + 1}` : values.body!, `m${i + 1}`);
  }
  if (expect !== undefined) {
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
    const outcome = await Promise.race([enough.then(() => 'ok' as const), timer, disconnected.then(() => 'disconnected' as const)]);
    await bridge.close();
    if (outcome !== 'ok') {
      process.stderr.write(`Error: received ${received} of ${expect} messages (${outcome})\n`);
      return 1;
    }
    return 0;
  }
  if (values.send) {
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
