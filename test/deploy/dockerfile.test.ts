import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { copySources, parseDockerfile, type Stage } from './dockerfile-parse.js';

/**
 * The Dockerfile, checked by reading it (these machines have no container
 * engine): it builds from a clean clone in stages, runs as a user of its own,
 * checks /healthz, and nothing of test/ reaches the image.
 */

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const stages = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const final = stages[stages.length - 1]!;
const all = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);

describe('Dockerfile', () => {
  it('has a build stage apart from the final one, which starts from a released Node 20 image', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages.map((s) => s.name)).toContain('build');
    for (const s of stages) expect(s.base).toMatch(/^node:20(-|$)/);
    expect(all(final, 'RUN').some((r) => /\bnpm (ci|install)\b|\btsc\b/.test(r.args))).toBe(false);
  });

  it('compiles with the build tsconfig, which leaves test/ out', () => {
    const build = stages.find((s) => s.name === 'build')!;
    expect(all(build, 'RUN').map((r) => r.args)).toContain('npm run build:release');
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts['build:release']).toBe('tsc -p tsconfig.build.json');
    const tsconfig = JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8')) as { include: string[]; extends: string };
    expect(tsconfig.include.sort()).toEqual(['cluster', 'src']);
  });

  it('copies nothing of test/ in any stage, and only files that are in a clean clone', () => {
    for (const s of stages) {
      for (const c of [...all(s, 'COPY'), ...all(s, 'ADD')]) {
        const { from, sources } = copySources(c.args);
        for (const src of sources) {
          expect(src, `${s.name ?? s.base}: COPY ${c.args}`).not.toMatch(/(^|\/)test(\/|$)|^\.$|^\.\/?$/);
          if (from === null) expect(existsSync(join(ROOT, src)), `${src} is in the repository`).toBe(true);
        }
      }
    }
  });

  it('puts only built output, package.json and production modules into the final image', () => {
    const copies = all(final, 'COPY').map((c) => copySources(c.args));
    expect(copies.length).toBeGreaterThan(0);
    for (const c of copies) {
      // Everything comes from an earlier stage, never straight from the build context.
      expect(stages.slice(0, -1).map((s) => s.name)).toContain(c.from);
      for (const src of c.sources) expect(src).toMatch(/^\/src\/(dist|node_modules|package\.json)$/);
    }
    const deps = stages.find((s) => s.name === copies.find((c) => c.sources.includes('/src/node_modules'))!.from)!;
    expect(all(deps, 'RUN').some((r) => /npm ci .*--omit=dev/.test(r.args))).toBe(true);
  });

  it('runs as a user that is not root', () => {
    const users = all(final, 'USER');
    expect(users.length).toBeGreaterThan(0);
    const user = users[users.length - 1]!.args.split(':')[0];
    expect(['root', '0', '']).not.toContain(user);
    expect(all(final, 'RUN').some((r) => r.args.includes(`useradd --system`) && r.args.includes(user!))).toBe(true);
  });

  it('checks its health on /healthz of the metrics listener with node, not curl', () => {
    const checks = all(final, 'HEALTHCHECK');
    expect(checks).toHaveLength(1);
    const m = /CMD (\[.*\])$/.exec(checks[0]!.args);
    expect(m, 'HEALTHCHECK ... CMD [exec form]').not.toBeNull();
    const argv = JSON.parse(m![1]!) as string[];
    expect(argv[0]).toBe('node');
    expect(argv.join(' ')).toContain('http://127.0.0.1:9464/healthz');
    expect(checks[0]!.args).not.toMatch(/curl|wget/);
    const entry = JSON.parse(all(final, 'ENTRYPOINT')[0]!.args) as string[];
    expect(entry.slice(entry.indexOf('--metrics-listen'), entry.indexOf('--metrics-listen') + 2)).toEqual(['--metrics-listen', '0.0.0.0:9464']);
  });

  it('exposes every port the node serves', () => {
    const exposed = all(final, 'EXPOSE').flatMap((e) => e.args.split(' ')).map((p) => (p.includes('/') ? p : `${p}/tcp`));
    for (const port of ['5222/tcp', '5223/tcp', '5269/tcp', '2222/tcp', '5999/tcp', '9464/tcp', '5300/tcp', '5300/udp']) expect(exposed).toContain(port);
  });

  it('sends only what the build copies as its context (.dockerignore)', () => {
    const rules = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    expect(rules[0]).toBe('*');
    const allowed = rules.filter((r) => r.startsWith('!')).map((r) => r.slice(1).replace(/\/$/, ''));
    expect(allowed.some((a) => a.startsWith('test'))).toBe(false);
    const contextSources = stages.flatMap((s) => all(s, 'COPY').map((c) => copySources(c.args)).filter((c) => c.from === null).flatMap((c) => c.sources));
    for (const src of contextSources) expect(allowed, `.dockerignore lets ${src} in`).toContain(src.replace(/\/$/, ''));
  });
});

describe('npm run build:release', () => {
  const out = mkdtempSync(join(tmpdir(), 'xmpp-build-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('compiles src/ and cluster/ alone, with the CLI where the image starts it', async () => {
    await run(join(ROOT, 'node_modules/.bin/tsc'), ['-p', join(ROOT, 'tsconfig.build.json'), '--outDir', out], { cwd: ROOT });
    expect(readdirSync(out).sort()).toEqual(['cluster', 'src']);
    expect(existsSync(join(out, 'src/cli.js'))).toBe(true);
  }, 180_000);
});
