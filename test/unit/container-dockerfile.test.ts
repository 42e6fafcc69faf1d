/**
 * The Dockerfile and .dockerignore, checked by reading (no Docker engine runs here): stages, the build
 * commands, what the runtime stage holds, and the health probe script, which is run for real with bash
 * against a local server.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.ts';

const ROOT = join(import.meta.dir, '..', '..');
const DOCKERFILE = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const DOCKERIGNORE = readFileSync(join(ROOT, '.dockerignore'), 'utf8');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
};

interface Instruction {
  cmd: string;
  args: string;
  heredoc?: string;
}
interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** Enough of the Dockerfile grammar for this file: comments, `\` continuations, `<<'EOF'` heredocs. */
function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const lines = text.split('\n');
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (/^\s*(#|$)/.test(line)) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++i]!.trim()}`;
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`Cannot parse Dockerfile line: ${line}`);
    const ins: Instruction = { cmd: m[1]!.toUpperCase(), args: m[2]!.trim() };
    const hd = /<<-?'?"?([A-Za-z_]+)'?"?/.exec(ins.args);
    if (hd) {
      const body: string[] = [];
      while (i + 1 < lines.length && lines[i + 1] !== hd[1]) body.push(lines[++i]!);
      i++;
      ins.heredoc = `${body.join('\n')}\n`;
    }
    if (ins.cmd === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args)!;
      const from = f[1]!.replace(/\$\{(\w+)\}/g, (_, n: string) => globalArgs[n] ?? '');
      stages.push({ from, name: f[2], instructions: [] });
    } else if (stages.length === 0) {
      if (ins.cmd === 'ARG') {
        const [k, v] = ins.args.split('=');
        globalArgs[k!] = v ?? '';
      }
    } else stages.at(-1)!.instructions.push(ins);
  }
  return { args: globalArgs, stages };
}

const { args, stages } = parseDockerfile(DOCKERFILE);
const build = stages.find((s) => s.name === 'build')!;
const runtime = stages.at(-1)!;
const all = (s: Stage, cmd: string) => s.instructions.filter((i) => i.cmd === cmd);
const one = (s: Stage, cmd: string) => {
  const found = all(s, cmd);
  expect(found.length, cmd).toBe(1);
  return found[0]!;
};

describe('Dockerfile', () => {
  test('two stages: build on the official Bun image of the Bun in use, runtime on a small glibc base', () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'runtime']);
    const bunVersion = args.BUN_VERSION!;
    expect(bunVersion).toMatch(/^\d+\.\d+\.\d+$/);
    expect(build.from).toBe(`oven/bun:${bunVersion}`);
    // Same major.minor as the Bun that runs this suite, so the image compiles what CI tested.
    expect(bunVersion.split('.').slice(0, 2)).toEqual(Bun.version.split('.').slice(0, 2));
    expect(runtime.from).toBe('debian:bookworm-slim');
  });

  test('the build stage installs the locked dependencies, then runs the build script', () => {
    const runs = all(build, 'RUN').map((i) => i.args);
    const install = runs.findIndex((r) => r.includes('bun install --frozen-lockfile'));
    const compile = runs.findIndex((r) => r.includes('bun run build'));
    expect(install).toBeGreaterThanOrEqual(0);
    expect(compile).toBeGreaterThan(install);
    // Manifests are copied before the install (layer cache), the sources after it.
    const copies = all(build, 'COPY').map((i) => i.args);
    expect(copies[0]).toBe('package.json bun.lock bunfig.toml ./');
    expect(copies[1]).toBe('. .');
    // package.json's build script is what produces the binary the runtime stage copies.
    expect(PKG.scripts.build).toBe('bun wiring/build.ts --outfile dist/gaia');
    // wiring/build.ts compiles the launcher behind a generated entry that embeds public/.
    const script = readFileSync(join(ROOT, 'wiring/build.ts'), 'utf8');
    expect(script).toContain("'build', '--compile'");
    expect(script).toContain("'wiring/main.ts'");
    expect(script).toContain("with { type: 'file' }");
  });

  test('the runtime stage holds the binary (static files embedded in it) and a writable data folder', () => {
    const copies = all(runtime, 'COPY').map((i) => i.args);
    expect(copies).toContain('--from=build /src/dist/gaia /app/gaia');
    // The web UI's files are inside the binary (wiring/build.ts); nothing else needs copying.
    expect(copies.filter((c) => c.startsWith('--from=build'))).toEqual([
      '--from=build /src/dist/gaia /app/gaia',
    ]);
    expect(one(runtime, 'WORKDIR').args).toBe('/app');
    const setup = all(runtime, 'RUN')
      .map((i) => i.args)
      .join('\n');
    expect(setup).toContain('useradd');
    expect(setup).toContain('mkdir -p /app/data/kb /app/data/assets');
    expect(setup).toContain('chown -R gaia:gaia /app/data');
    expect(setup).toContain('chmod 0700 /app/data');
  });

  test('non-root user, /app/data volume, ports 8666 and 8080, the binary as entrypoint', () => {
    const user = one(runtime, 'USER').args;
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    expect(one(runtime, 'VOLUME').args).toBe('["/app/data"]');
    expect(one(runtime, 'EXPOSE').args.split(/\s+/).sort()).toEqual(['8080', '8666']);
    expect(JSON.parse(one(runtime, 'ENTRYPOINT').args)).toEqual(['/app/gaia']);
    expect(all(runtime, 'CMD')).toEqual([]);
  });

  test('environment defaults are production, /app/data, and every name is one src/config.ts reads', () => {
    const env = Object.fromEntries(
      one(runtime, 'ENV')
        .args.split(/\s+/)
        .map((kv) => kv.split('=') as [string, string]),
    );
    expect(env).toEqual({
      GAIA_ENV: 'production',
      GAIA_DATA_DIR: '/app/data',
      HOST: '0.0.0.0',
      // Read by the Bun runtime: lifts fetch's 256-connection cap for provider streams.
      BUN_CONFIG_MAX_HTTP_REQUESTS: '4096',
    });
    // The production default refuses to start without its secrets (the config tests prove the refusal).
    expect(() => loadConfig(env)).toThrow('GAIA_JWT_SECRET');
  });

  test('HEALTHCHECK runs the probe script the image writes, within Docker timeouts', () => {
    const hc = one(runtime, 'HEALTHCHECK').args;
    expect(hc).toMatch(/CMD \["\/app\/healthcheck"\]$/);
    const timeout = Number(/--timeout=(\d+)s/.exec(hc)?.[1]);
    // The script gives up reading after 5 s; Docker must wait at least that long.
    expect(timeout).toBeGreaterThan(5);
    const script = all(runtime, 'COPY').find((i) => i.args.endsWith('/app/healthcheck'));
    expect(script?.args).toContain('--chmod=0755');
    expect(script?.heredoc?.startsWith('#!/bin/bash\n')).toBe(true);
  });
});

describe('the health probe script', () => {
  const script = all(runtime, 'COPY').find((i) => i.args.endsWith('/app/healthcheck'))!.heredoc!;
  const dir = mkdtempSync(join(tmpdir(), 'gaia-healthcheck-'));
  const path = join(dir, 'healthcheck');
  writeFileSync(path, script);
  chmodSync(path, 0o755);

  let status = 200;
  const seen: string[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch(req) {
      seen.push(new URL(req.url).pathname);
      return new Response('{}', { status });
    },
  });
  afterAll(() => {
    server.stop(true);
    rmSync(dir, { recursive: true, force: true });
  });

  async function probe(env: Record<string, string>): Promise<number> {
    const p = Bun.spawn(['bash', path], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      stderr: 'pipe',
    });
    return p.exited;
  }
  const port = String(server.port);

  const cases: Array<[string, Record<string, string>, string]> = [
    ['all-in-one (GAIA_SERVICE unset)', { GATEWAY_PORT: port }, '/health/ready'],
    ['GAIA_SERVICE=all', { GAIA_SERVICE: 'all', GATEWAY_PORT: port }, '/health/ready'],
    ['gateway', { GAIA_SERVICE: 'gateway', GATEWAY_PORT: port }, '/health/ready'],
    ['auth', { GAIA_SERVICE: 'auth', AUTH_PORT: port }, '/health'],
    ['asset', { GAIA_SERVICE: 'asset', ASSET_PORT: port }, '/health'],
    ['chat', { GAIA_SERVICE: 'chat', CHAT_PORT: port }, '/health'],
    ['kb', { GAIA_SERVICE: 'kb', KB_PORT: port }, '/health'],
    ['web', { GAIA_SERVICE: 'web', WEB_PORT: port }, '/health'],
  ];
  for (const [label, env, path] of cases) {
    test(`${label}: 200 on ${path} is healthy, 503 is not`, async () => {
      status = 200;
      seen.length = 0;
      expect(await probe(env)).toBe(0);
      expect(seen).toEqual([path]);
      status = 503;
      expect(await probe(env)).not.toBe(0);
    });
  }

  test('nothing listening is unhealthy, at once', async () => {
    const closed = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('') });
    const port = String(closed.port);
    closed.stop(true);
    const start = performance.now();
    expect(await probe({ GAIA_SERVICE: 'chat', CHAT_PORT: port })).not.toBe(0);
    expect(performance.now() - start).toBeLessThan(2000);
  });

  test('the default ports are the spec ones (gateway.md §2)', () => {
    for (const [name, p] of Object.entries({
      AUTH: 8001,
      ASSET: 8002,
      CHAT: 8003,
      KB: 8004,
      WEB: 8080,
      GATEWAY: 8666,
    }))
      expect(script).toContain(`\${${name}_PORT:-${p}}`);
  });
});

/** Docker's .dockerignore rules: last matching pattern wins; a pattern also matches a path's parents. */
function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = (negate ? l.slice(1) : l).trim().replace(/^\/+/, '').replace(/\/+$/, '');
      let re = '';
      for (let i = 0; i < pattern.length; i++) {
        const ch = pattern[i]!;
        if (ch === '*' && pattern[i + 1] === '*') {
          i++;
          if (pattern[i + 1] === '/') {
            i++;
            re += '(?:.*/)?';
          } else re += '.*';
        } else if (ch === '*') re += '[^/]*';
        else if (ch === '?') re += '[^/]';
        else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
      }
      return { negate, re: new RegExp(`^${re}$`) };
    });
  return (path) => {
    const parts = path.split('/');
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const r of rules) if (candidates.some((c) => r.re.test(c))) excluded = !r.negate;
    return excluded;
  };
}

describe('.dockerignore', () => {
  const excluded = dockerignore(DOCKERIGNORE);

  test('admits every source file the compiled binary is built from', async () => {
    // The bundler's own list of inputs: whatever `bun run build` reads outside node_modules.
    const result = await Bun.build({
      entrypoints: [join(ROOT, 'wiring/main.ts')],
      target: 'bun',
      metafile: true,
    });
    expect(result.success).toBe(true);
    const inputs = Object.keys(result.metafile!.inputs)
      .map((p) => (p.startsWith(ROOT) ? p.slice(ROOT.length + 1) : p))
      .filter((p) => !p.includes('node_modules/'));
    expect(inputs).toContain('wiring/main.ts');
    expect(inputs.some((p) => p.endsWith('.sql'))).toBe(true);
    for (const p of inputs) expect(excluded(p), p).toBe(false);
  });

  test('admits what the build stage copies', () => {
    for (const p of ['package.json', 'bun.lock', 'bunfig.toml', 'tsconfig.json', 'public/vendor/htmx.min.js'])
      expect(excluded(p), p).toBe(false);
  });

  test('keeps out dependencies, build output, data, secrets, tests and Git', () => {
    for (const p of [
      'node_modules/elysia/package.json',
      'services/gateway/node_modules/x/index.js',
      'dist/gaia',
      'data/gaia.db',
      'data/jwt-secret',
      '.env',
      '.env.local',
      'src/.env',
      '.git/HEAD',
      'test/unit/config-defaults.test.ts',
      'bench/run.ts',
      'gaia.log',
      'docker-compose.yml',
    ])
      expect(excluded(p), p).toBe(true);
  });
});
