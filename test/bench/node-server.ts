import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { XmppNode } from '../../src/node/xmpp-node.js';

/**
 * Our node for the benchmark, in its own process so that its CPU can be
 * read apart from the clients'. Prints `READY <port>` when it serves.
 * argv: <secret> [name...]
 */
const [secret, ...names] = process.argv.slice(2);
const dataDir = await mkdtemp(join(tmpdir(), 'xmpp-bench-node-'));
const node = await XmppNode.open({ dataDir, name: 'bench', address: '127.0.0.1', componentPorts: [0], log: pino({ level: 'warn' }) });
await node.setDomain('example.test');
await node.setListen(['a']);
for (const name of names) await node.addCallbridge(name, secret!);
await node.enable();
const state = node.serviceState();
if (state.state !== 'running') throw new Error(`bench node not running: ${JSON.stringify(state)}`);
process.stdout.write(`READY ${state.bindings[0]!.port}\n`);
// Closing the node ends its listeners and sessions; then nothing keeps the process alive.
process.on('SIGTERM', () => void node.close());
