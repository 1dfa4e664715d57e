import { existsSync, readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * deploy/compose.yaml, checked by reading (no container engine here). It is
 * written in the JSON subset of YAML 1.2 with comment lines before it: the
 * project has no YAML library (none in `npm ls --all` either), and JSON.parse
 * reads what any compose implementation reads.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DEPLOY = join(ROOT, 'deploy');
const text = readFileSync(join(DEPLOY, 'compose.yaml'), 'utf8');

interface Port { name?: string; target: number; published?: string; host_ip?: string; protocol?: string }
interface Service {
  build: { context: string; dockerfile: string };
  command: string[];
  environment: Record<string, string>;
  networks: Record<string, { ipv4_address?: string }>;
  ports: Port[];
  volumes: { type: string; source: string; target: string }[];
  stop_grace_period?: string;
}
interface Compose {
  services: Record<string, Service>;
  networks: Record<string, { ipam?: { config?: { subnet: string }[] } }>;
  volumes: Record<string, unknown>;
}

function parseCompose(source: string): Compose {
  const body = source.split('\n').filter((line) => !/^\s*#/.test(line)).join('\n');
  return JSON.parse(body) as Compose;
}

const compose = parseCompose(text);
const services = Object.entries(compose.services);

const inSubnet = (address: string, subnet: string) => {
  const [net, bits] = subnet.split('/') as [string, string];
  const n = (a: string) => a.split('.').reduce((v, o) => v * 256 + Number(o), 0);
  const size = 2 ** (32 - Number(bits));
  return Math.floor(n(address) / size) === Math.floor(n(net) / size);
};

describe('deploy/compose.yaml', () => {
  it('is JSON after its comment lines, so that any YAML 1.2 reader reads the same', () => {
    expect(text.split('\n').find((l) => !l.startsWith('#'))).toBe('{');
    expect(services).toHaveLength(3);
  });

  it('builds every node from the repository Dockerfile', () => {
    for (const [, s] of services) {
      expect(existsSync(join(DEPLOY, s.build.context, s.build.dockerfile))).toBe(true);
      expect(join(DEPLOY, s.build.context)).toBe(ROOT.replace(/\/$/, ''));
    }
  });

  it('gives each node its own fixed address on a user-defined network, and tells the node that address', () => {
    const addresses = new Set<string>();
    for (const [name, s] of services) {
      const nets = Object.entries(s.networks);
      expect(nets, name).toHaveLength(1);
      const [net, { ipv4_address }] = nets[0]!;
      expect(isIPv4(ipv4_address ?? ''), `${name} ipv4_address`).toBe(true);
      const subnet = compose.networks[net]?.ipam?.config?.[0]?.subnet;
      expect(subnet, `network ${net} has a subnet`).toMatch(/^\d+\.\d+\.\d+\.\d+\/\d+$/);
      expect(inSubnet(ipv4_address!, subnet!)).toBe(true);
      expect(s.command[s.command.indexOf('--address') + 1]).toBe(ipv4_address);
      expect(s.command[s.command.indexOf('--name') + 1]).toBe(name);
      addresses.add(ipv4_address!);
    }
    expect(addresses.size).toBe(3);
  });

  it('keeps each data directory in a named volume of its own', () => {
    const sources = new Set<string>();
    for (const [name, s] of services) {
      const data = s.volumes.filter((v) => v.target === '/var/lib/xmpp-cluster');
      expect(data, name).toHaveLength(1);
      expect(data[0]!.type).toBe('volume');
      expect(Object.keys(compose.volumes)).toContain(data[0]!.source);
      sources.add(data[0]!.source);
    }
    expect(sources.size).toBe(3);
  });

  it('names every port, and publishes every port the node serves', () => {
    const wanted = ['5222/tcp', '5223/tcp', '5269/tcp', '2222/tcp', '5999/tcp', '9464/tcp', '5300/udp', '5300/tcp'];
    const hostAddresses = new Set<string>();
    for (const [name, s] of services) {
      for (const p of s.ports) expect(p.name, `${name} port ${p.target}/${p.protocol}`).toMatch(/^[a-z][a-z0-9-]*$/);
      expect(new Set(s.ports.map((p) => p.name)).size).toBe(s.ports.length);
      expect(s.ports.map((p) => `${p.target}/${p.protocol ?? 'tcp'}`).sort()).toEqual([...wanted].sort());
      hostAddresses.add(s.ports[0]!.host_ip ?? '');
      expect(new Set(s.ports.map((p) => p.host_ip)).size).toBe(1);
    }
    // Same port numbers on the host: each node on its own host address.
    expect(hostAddresses.size).toBe(3);
  });

  it('takes the admin password from the environment, and gives the node time for its graceful shutdown', () => {
    for (const [, s] of services) {
      expect(s.environment.XMPP_CLUSTER_ADMIN_PASSWORD).toMatch(/^\$\{XMPP_CLUSTER_ADMIN_PASSWORD(:\?[^}]*)?\}$/);
      expect(Number.parseInt(s.stop_grace_period ?? '10', 10)).toBeGreaterThan(10);
    }
  });
});
