import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * deploy/systemd/: the unit and its low-ports drop-in, checked by
 * systemd-analyze verify (Debian's systemd package; .ci/run installs it).
 * verify insists that ExecStart's program exists, so the test renders the
 * unit with /usr/bin/node replaced by the node running this test.
 */

const run = promisify(execFile);
const DIR = fileURLToPath(new URL('../../deploy/systemd/', import.meta.url));
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';
const unitText = readFileSync(join(DIR, 'xmpp-cluster.service'), 'utf8');
const dropInText = readFileSync(join(DIR, 'bind-low-ports.conf'), 'utf8');

/** key → values of a section, continuation lines joined. */
function section(text: string, name: string): Map<string, string[]> {
  const keys = new Map<string, string[]>();
  let current = '';
  for (const line of text.replace(/\\\n\s*/g, ' ').split('\n')) {
    const header = /^\[(.+)\]$/.exec(line.trim());
    if (header) {
      current = header[1]!;
      continue;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (current === name && kv) keys.set(kv[1]!, [...(keys.get(kv[1]!) ?? []), kv[2]!.trim()]);
  }
  return keys;
}

const last = (keys: Map<string, string[]>, key: string) => keys.get(key)?.at(-1);
const service = section(unitText, 'Service');
const dropIn = section(dropInText, 'Service');

const tmp = mkdtempSync(join(tmpdir(), 'xmpp-systemd-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function verify(dir: string): Promise<{ code: number; output: string }> {
  if (!existsSync(SYSTEMD_ANALYZE)) throw new Error(`${SYSTEMD_ANALYZE} is missing: install Debian's systemd package (.ci/run does)`);
  try {
    const { stdout, stderr } = await run(SYSTEMD_ANALYZE, ['verify', '--man=no', '--recursive-errors=no', 'xmpp-cluster.service'], { cwd: dir });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** The unit (and optionally the drop-in beside it, where verify finds it) with the node binary that exists here. */
function render(name: string, withDropIn: boolean, extra = ''): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  const local = (t: string) => t.replaceAll('/usr/bin/node', process.execPath);
  writeFileSync(join(dir, 'xmpp-cluster.service'), local(unitText) + extra);
  if (withDropIn) {
    mkdirSync(join(dir, 'xmpp-cluster.service.d'));
    writeFileSync(join(dir, 'xmpp-cluster.service.d', 'bind-low-ports.conf'), local(dropInText));
  }
  return dir;
}

describe('deploy/systemd/xmpp-cluster.service', () => {
  it('passes systemd-analyze verify', async () => {
    const r = await verify(render('unit', false));
    expect(r.output).toBe('');
    expect(r.code).toBe(0);
  });

  it('passes with the low-ports drop-in', async () => {
    const r = await verify(render('drop-in', true));
    expect(r.output).toBe('');
    expect(r.code).toBe(0);
  });

  it('is a check that fails on a key systemd does not know', async () => {
    const r = await verify(render('broken', false, 'NoSuchHardening=true\n'));
    expect(r.code).not.toBe(0);
    expect(r.output).toContain("Unknown key 'NoSuchHardening'");
  });

  it('runs as its own user with the usual hardening, writing only its data directory', () => {
    expect(last(service, 'User')).toBe('xmpp-cluster');
    expect(last(service, 'NoNewPrivileges')).toBe('true');
    expect(last(service, 'ProtectSystem')).toBe('strict');
    expect(last(service, 'ProtectHome')).toBe('true');
    expect(last(service, 'PrivateTmp')).toBe('true');
    const dataDir = /--data-dir (\S+)/.exec(last(service, 'ExecStart')!)![1];
    expect(last(service, 'ReadWritePaths')).toBe(dataDir);
    expect(last(service, 'Restart')).toBe('on-failure');
  });

  it('gives the node longer to stop than its 10 s graceful shutdown', () => {
    expect(Number(last(service, 'TimeoutStopSec'))).toBeGreaterThan(10);
    expect(last(service, 'KillSignal')).toBe('SIGTERM');
  });

  it('holds no capability and binds unprivileged ports; only the drop-in grants CAP_NET_BIND_SERVICE, for 22', () => {
    expect(last(service, 'AmbientCapabilities') ?? '').toBe('');
    expect(last(service, 'CapabilityBoundingSet')).toBe('');
    expect(last(service, 'ExecStart')).not.toMatch(/--ssh-port/); // 2222 by default
    expect(last(dropIn, 'AmbientCapabilities')).toBe('CAP_NET_BIND_SERVICE');
    expect(last(dropIn, 'CapabilityBoundingSet')).toBe('CAP_NET_BIND_SERVICE');
    expect(dropIn.get('ExecStart')![0]).toBe(''); // resets the unit's ExecStart before replacing it
    expect(last(dropIn, 'ExecStart')).toMatch(/--ssh-port 22 /);
  });
});
