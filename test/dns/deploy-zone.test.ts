import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResolver, lookupSrv } from '../../src/dns/srv-lookup.js';
import { dig, startBind, type BindServer } from '../helpers/bind-server.js';

/** deploy/dns/example.test.zone: the static DNS an operator loads into BIND. */

const run = promisify(execFile);
const ZONE_FILE = fileURLToPath(new URL('../../deploy/dns/example.test.zone', import.meta.url));
const ADDRESS = '127.0.2.2';

it('passes named-checkzone', async () => {
  const { stdout } = await run('named-checkzone', ['example.test', ZONE_FILE]);
  expect(stdout).toMatch(/loaded serial \d+/);
  expect(stdout.trim().split('\n').pop()).toBe('OK');
});

describe('served by BIND', () => {
  let bind: BindServer;
  beforeAll(async () => {
    bind = await startBind({ origin: 'example.test', zoneText: readFileSync(ZONE_FILE, 'utf8'), address: ADDRESS });
  });
  afterAll(async () => {
    await bind?.stop();
  });

  const digShort = async (...args: string[]) =>
    (await dig(bind.address, bind.port, [...args, '+short']))
      .trim()
      .split('\n')
      .filter(Boolean)
      .sort();

  it('dig sees one _xmpp-component._tcp SRV record per node and component port', async () => {
    expect(await digShort('SRV', '_xmpp-component._tcp.example.test')).toEqual([
      '0 0 5223 xmppserver1.example.test.',
      '0 0 5223 xmppserver2.example.test.',
      '0 0 5223 xmppserver3.example.test.',
      '10 0 5222 xmppserver1.example.test.',
      '10 0 5222 xmppserver2.example.test.',
      '10 0 5222 xmppserver3.example.test.',
    ]);
  });

  it('dig sees _xmpp-server._tcp on 5269 for federation', async () => {
    expect(await digShort('SRV', '_xmpp-server._tcp.example.test')).toEqual([
      '0 0 5269 xmppserver1.example.test.',
      '0 0 5269 xmppserver2.example.test.',
      '0 0 5269 xmppserver3.example.test.',
    ]);
  });

  it('dig sees an A record for every SRV target, over UDP and TCP', async () => {
    for (const [n, address] of [
      [1, '127.0.0.1'],
      [2, '127.0.0.2'],
      [3, '127.0.0.3'],
    ] as const) {
      expect(await digShort('A', `xmppserver${n}.example.test`)).toEqual([address]);
      expect(await digShort('A', `xmppserver${n}.example.test`, '+tcp')).toEqual([address]);
    }
  });

  it('answers authoritatively with its SOA and NS', async () => {
    const full = await dig(bind.address, bind.port, ['SOA', 'example.test']);
    expect(full).toMatch(/flags:[^;]*\baa\b/);
    expect(await digShort('NS', 'example.test')).toEqual(['ns1.example.test.']);
  });

  it('a call bridge resolves the 5223 records first, then the 5222 fallback', async () => {
    const r = await lookupSrv('example.test', { resolver: createResolver({ servers: [bind.server] }) });
    expect(r.targets.map((t) => t.port)).toEqual([5223, 5223, 5223, 5222, 5222, 5222]);
    expect(new Set(r.targets.slice(0, 3).flatMap((t) => t.addresses))).toEqual(new Set(['127.0.0.1', '127.0.0.2', '127.0.0.3']));
  });
});
