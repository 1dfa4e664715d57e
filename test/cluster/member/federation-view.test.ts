/**
 * `xmpp federation connections` in a cluster (federation.md, "Where we go
 * further": the connections view covers every node): three members over a
 * memory network, each with its own streams, every member's table lists all
 * of them; a stopped member, or one that does not answer in time, is left
 * out with a `Warning:` line naming it while the others are still listed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { clusterFederationView } from '../../../cluster/member/cluster-federation-view.js';
import { ControlDecodeError, decodeControl, encodeControl } from '../../../cluster/member/control-messages.js';
import { federationCommands } from '../../../src/mmp/commands/federation.js';
import { Interpreter } from '../../../src/mmp/interpreter.js';
import type { S2sStreamInfo } from '../../../src/s2s/server-streams.js';
import { eventually, MemoryCluster, type MemoryClusterNode } from '../../helpers/memory-cluster.js';
import { ScriptTerminal } from '../../helpers/script-terminal.js';

const NOW = Date.UTC(2024, 0, 1, 12, 0, 0);

const stream = (remoteDomain: string, peerAddress: string, direction: 'incoming' | 'outgoing', idleMs: number, more: Partial<S2sStreamInfo> = {}): S2sStreamInfo => ({
  id: `${remoteDomain}/${peerAddress}`,
  direction,
  localDomain: 'example.test',
  remoteDomain,
  peerAddress,
  tls: 'TLS 1.3',
  auth: 'dialback',
  lastActivity: NOW - idleMs,
  ...more,
});

/** What each member's federation service would report. */
const ROWS: Record<string, S2sStreamInfo[]> = {
  cb1: [stream('example.org', '192.0.2.10:5269', 'outgoing', 42_000, { auth: 'sasl' }), stream('partner.net', '198.51.100.7:5269', 'outgoing', 598_000, { tls: null })],
  cb2: [stream('example.org', '192.0.2.10:40218', 'incoming', 3_000)],
  cb3: [stream('third.test', '203.0.113.5:41000', 'incoming', 61_000, { tls: 'TLS 1.2', auth: 'sasl' })],
};

const HEADER = 'Domain        Peer address      Direction  Security  Auth      Idle    Node';
const LINES = {
  cb1a: 'example.org   192.0.2.10:5269   Outgoing   TLS 1.3   SASL      0:42    cb1',
  cb2: 'example.org   192.0.2.10:40218  Incoming   TLS 1.3   dialback  0:03    cb2',
  cb1b: 'partner.net   198.51.100.7:5269 Outgoing   none      dialback  9:58    cb1',
  cb3: 'third.test    203.0.113.5:41000 Incoming   TLS 1.2   SASL      1:01    cb3',
};

let cluster: MemoryCluster;
afterEach(async () => cluster.close());

/** Three members; `answering` names those whose node runs the cluster view (the others never answer a request). */
async function threeMembers(answering: string[], timeoutMs?: number): Promise<MemoryClusterNode[]> {
  cluster = new MemoryCluster();
  const nodes: MemoryClusterNode[] = [];
  for (const [i, name] of ['cb1', 'cb2', 'cb3'].entries()) {
    const n = await cluster.node(name, `127.0.8.${11 + i}`);
    await n.run('xmpp domain example.test');
    if (answering.includes(name)) {
      n.node.federation.attach(
        clusterFederationView(() => ROWS[name]!, {
          self: { id: n.node.identity.id, name },
          members: () => n.service.zoneMembers(),
          transport: n.transport,
          ...(timeoutMs === undefined ? {} : { timeoutMs }),
        }),
      );
    }
    const joined = i === 0 ? await n.run('xmpp cluster initialize') : await n.run('xmpp cluster join 127.0.8.11');
    expect(joined).toMatch(i === 0 ? /^$/ : /^Joined cluster/);
    nodes.push(n);
  }
  for (const n of nodes) await eventually(() => n.service.memberCount() === 3 && n.transport.connected().length === 2, `${n.node.name} to link with both others`);
  return nodes;
}

async function connections(n: MemoryClusterNode, line = 'xmpp federation connections'): Promise<{ output: string; exitCode: number }> {
  const mmp = new Interpreter(federationCommands({ node: n.node, now: () => NOW }));
  return mmp.run(line, new ScriptTerminal([]), 'exec', 'admin');
}

describe('xmpp federation connections in a cluster', () => {
  it("lists every member's streams on every member, each with its node", async () => {
    const nodes = await threeMembers(['cb1', 'cb2', 'cb3']);
    for (const n of nodes) {
      expect(await connections(n)).toEqual({ output: [HEADER, LINES.cb1a, LINES.cb2, LINES.cb1b, LINES.cb3, ''].join('\n'), exitCode: 0 });
      const status = (await n.run('xmpp federation status')).split('\n');
      expect(status).toContain('Connections          : 4 (2 incoming, 2 outgoing)');
    }
    const json = JSON.parse((await connections(nodes[1]!, 'xmpp federation connections --json')).output);
    expect(json.unanswered).toEqual([]);
    expect(json.connections.map((c: { node: string; domain: string }) => `${c.node} ${c.domain}`)).toEqual(['cb1 example.org', 'cb2 example.org', 'cb1 partner.net', 'cb3 third.test']);
  });

  it('leaves out a stopped member with a Warning line naming it, and still lists the others', async () => {
    const [cb1, , cb3] = await threeMembers(['cb1', 'cb2', 'cb3']);
    await cb3!.service.close();
    await eventually(() => !cb1!.transport.connected().includes(cb3!.node.identity.id), 'cb1 to see its link to cb3 down');
    const warning = 'Warning: cb3 did not answer; its federation connections are not listed';
    expect(await connections(cb1!)).toEqual({ output: [HEADER, LINES.cb1a, LINES.cb2, LINES.cb1b, warning, ''].join('\n'), exitCode: 0 });
    expect((await cb1!.run('xmpp federation status')).split('\n')).toEqual(expect.arrayContaining(['Connections          : 3 (1 incoming, 2 outgoing)', warning]));
    expect(JSON.parse((await connections(cb1!, 'xmpp federation connections --json')).output).unanswered).toEqual(['cb3']);
  });

  it('leaves out a member that is up but does not answer in time, after the bounded wait', async () => {
    const [cb1] = await threeMembers(['cb1', 'cb2'], 300);
    expect(await connections(cb1!)).toEqual({
      output: [HEADER, LINES.cb1a, LINES.cb2, LINES.cb1b, 'Warning: cb3 did not answer; its federation connections are not listed', ''].join('\n'),
      exitCode: 0,
    });
  });
});

describe('the federation rows control messages', () => {
  it('round-trip a request and an answer, and refuse an answer whose rows are malformed before anything reads them', () => {
    const answer = { type: 'federation-rows', rid: 'r1', node: 'cb3', rows: ROWS.cb3! } as const;
    expect(decodeControl(encodeControl({ type: 'federation-rows-request', rid: 'r1' }))).toEqual({ type: 'federation-rows-request', rid: 'r1' });
    expect(decodeControl(encodeControl(answer))).toEqual(answer);
    const bytes = (rows: unknown[]) => new TextEncoder().encode(JSON.stringify({ v: 1, type: 'federation-rows', rid: 'r1', node: 'cb3', rows }));
    for (const bad of [{ ...ROWS.cb3![0], direction: 'sideways' }, { ...ROWS.cb3![0], auth: 'password' }, { ...ROWS.cb3![0], lastActivity: -1 }, { ...ROWS.cb3![0], tls: 13 }, 'row']) {
      expect(() => decodeControl(bytes([bad]))).toThrow(ControlDecodeError);
    }
  });
});
