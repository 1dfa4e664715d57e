import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROCESS_TEST_TIMEOUT_MS } from '../helpers/cluster-processes.js';
import { assertBuilt, CliProcess, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/test-node.js';

/**
 * What a new operator does after reading the README: `npm start`, a
 * three-node cluster with two demo call bridges talking through the leader,
 * MMP commands on its nodes, and the failover the banner suggests: kill -9
 * of the leader's pid, while the call bridges keep talking. The demo runs on
 * 127.0.0.4-6 here so that it does not meet the acceptance test's cluster on
 * 127.0.0.1-3.
 */

const run = promisify(execFile);
let root: string;
let demo: CliProcess;
const ADDRESSES = ['127.0.0.4', '127.0.0.5', '127.0.0.6'];

beforeAll(async () => {
  assertBuilt();
  root = await tempDir('xmpp-demo-');
  demo = new CliProcess(['start', '--data-dir', root, '--addresses', ADDRESSES.join(',')]);
  await demo.waitForOutput(/^Failover: kill -9 \d+/m, 90_000);
}, 100_000);

afterAll(async () => {
  await demo?.stop();
});

const pidsOf = (text: string) => [...text.matchAll(/^ {2}(cb\d) {2}pid (\d+)/gm)].map((m) => ({ name: m[1]!, pid: Number(m[2]) }));
const answered = () => Number([...demo.stdout.matchAll(/answered (\d+) of/g)].at(-1)?.[1] ?? 0);

describe('npm start', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  it('prints each node with its pid and SSH line, both call bridges with their secrets, and the leader', () => {
    expect(pidsOf(demo.stdout).map((n) => n.name)).toEqual(['cb1', 'cb2', 'cb3']);
    for (const a of ADDRESSES) expect(demo.stdout).toContain(`ssh -p 2222 admin@${a}`);
    expect(demo.stdout).toMatch(/admin password: \S+/);
    expect(demo.stdout).toMatch(/cb1\.example\.test {2}secret [A-Za-z0-9]{20}/);
    expect(demo.stdout).toMatch(/cb2\.example\.test {2}secret [A-Za-z0-9]{20}/);
    expect(demo.stdout).toMatch(/^Leader: 127\.0\.0\.4:5222 \(cb1, pid \d+\)/m);
  });

  it('has its two call bridges on different nodes exchange messages through the leader', async () => {
    expect(demo.stdout).toMatch(/cb2\.example\.test connected to cb3 \(127\.0\.0\.6:5222\), found by SRV/);
    expect(demo.stdout).toContain('cb1.example.test connected to cb2');
    await demo.waitForOutput(/answered 2 of/, 20_000);
  });

  it('answers MMP commands on every node: the same three peers and one leader', async () => {
    for (const n of ['cb1', 'cb2', 'cb3']) {
      const r = await runCli(['mmp', '--data-dir', join(root, n), 'xmpp cluster status']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('List of peers\n127.0.0.4:5222 (Leader)\n127.0.0.5:5222\n127.0.0.6:5222\n');
    }
  });

  it('serves the cluster in DNS: the dig line the banner prints lists every node', async () => {
    const line = /^DNS \(every node's health-aware responder\): (dig .+)$/m.exec(demo.stdout)?.[1];
    expect(line).toBe('dig @127.0.0.4 -p 5300 SRV _xmpp-component._tcp.example.test');
    const { stdout } = await run('dig', [...line!.split(' ').slice(1), '+short', '+norecurse']);
    expect(stdout.trim().split('\n').sort()).toEqual(['0 0 5222 cb3.example.test.', '10 0 5222 cb1.example.test.', '10 0 5222 cb2.example.test.']);
    expect(demo.stdout).toMatch(/^A call bridge found by SRV: node dist\/src\/cli\.js bridge --srv example\.test --dns 127\.0\.0\.4:5300 --name cb2 --secret [A-Za-z0-9]{20} --domain example\.test$/m);
  });

  it('keeps the call bridges talking after kill -9 of the leader, as the banner suggests', async () => {
    const leaderPid = Number(/^Failover: kill -9 (\d+)/m.exec(demo.stdout)![1]);
    const before = answered();
    process.kill(leaderPid, 'SIGKILL');
    await demo.waitForOutput(new RegExp(`answered ${before + 3} of`), 30_000);
    const r = await runCli(['mmp', '--data-dir', join(root, 'cb2'), 'xmpp cluster status']);
    expect(r.stdout).toMatch(/^127\.0\.0\.[56]:5222 \(Leader\)$/m);
  });

  it('stops every node on Ctrl-C', async () => {
    const pids = pidsOf(demo.stdout).map((n) => n.pid);
    expect(await demo.stop('SIGINT')).toBe(0);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  });
});
