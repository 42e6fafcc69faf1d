/**
 * The single compiled binary the container runs: built exactly as `bun run build` builds it (into a temp
 * folder), started from an empty folder so nothing can come from the checkout, it serves /health and the
 * embedded Swagger UI, passes the container's health probe, and exits 0 on SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';

const ROOT = join(import.meta.dir, '..', '..');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
};
const COMPILE_BUDGET_MS = 60_000;

const dir = mkdtempSync(join(tmpdir(), 'gaia-binary-'));
const binary = join(dir, 'bin', 'gaia');
const runDir = join(dir, 'run');
const dataDir = join(dir, 'data');
let compileMs = 0;
const procs: Subprocess[] = [];

function freePort(): number {
  const s = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('') });
  const port = s.port!;
  s.stop(true);
  return port;
}

/** Runs the binary; its output is collected as it comes so a full pipe never blocks it. */
function start(env: Record<string, string>) {
  const proc = Bun.spawn([binary], {
    cwd: runDir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  procs.push(proc);
  const output = Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]).then((p) =>
    p.join(''),
  );
  return { proc, output };
}

async function waitForHealth(url: string, timeoutMs: number): Promise<Response> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return res;
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) throw new Error(`no 200 from ${url}/health within ${timeoutMs} ms`);
    await Bun.sleep(50);
  }
}

async function exitWithin(proc: Subprocess, ms: number): Promise<number | 'timeout'> {
  return Promise.race([proc.exited, Bun.sleep(ms).then(() => 'timeout' as const)]);
}

beforeAll(async () => {
  mkdirSync(runDir, { recursive: true });
  // `bun run build` (wiring/build.ts ... --outfile dist/gaia), with only the output moved. Nothing of public/ is
  // copied anywhere: the binary must carry it.
  const argv = PKG.scripts.build!.split(/\s+/);
  expect(argv[0]).toBe('bun');
  argv[0] = process.execPath;
  argv[argv.indexOf('--outfile') + 1] = binary;
  const started = performance.now();
  const build = Bun.spawn(argv, { cwd: ROOT, stdout: 'pipe', stderr: 'pipe' });
  const [code, out, err] = await Promise.all([
    build.exited,
    new Response(build.stdout).text(),
    new Response(build.stderr).text(),
  ]);
  compileMs = performance.now() - started;
  if (code !== 0) throw new Error(`bun build --compile failed (${code}):\n${out}\n${err}`);
}, COMPILE_BUDGET_MS + 30_000);

afterAll(async () => {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
  rmSync(dir, { recursive: true, force: true });
});

describe('compiled binary', () => {
  test('compiles within budget', () => {
    const size = statSync(binary).size;
    console.log(
      `[binary] compiled in ${(compileMs / 1000).toFixed(2)} s, ${(size / 1024 / 1024).toFixed(1)} MiB`,
    );
    expect(compileMs).toBeLessThan(COMPILE_BUDGET_MS);
    expect(size).toBeGreaterThan(1024 * 1024);
  });

  test('refuses to start in production without its secrets, naming the variable', async () => {
    const { proc, output } = start({ GAIA_ENV: 'production', GAIA_DATA_DIR: dataDir, GATEWAY_PORT: '0' });
    expect(await exitWithin(proc, 10_000)).toBe(1);
    const text = await output;
    expect(text).toContain('GAIA_JWT_SECRET');
    expect(text).toContain('Invalid configuration');
  });

  test('serves /health and the embedded Swagger UI, passes the container probe, exits 0 on SIGTERM', async () => {
    const port = freePort();
    const webPort = freePort();
    const url = `http://127.0.0.1:${port}`;
    const { proc, output } = start({
      GAIA_ENV: 'development',
      GAIA_DATA_DIR: dataDir,
      GATEWAY_PORT: String(port),
      WEB_PORT: String(webPort),
      HOST: '127.0.0.1',
    });

    const health = await (await waitForHealth(url, 10_000)).json();
    expect(health.database).toMatchObject({ status: 'healthy', database: 'sqlite', responsive: true });
    expect(health.nats).toEqual({ status: 'healthy', connected: true, mode: 'memory' });
    expect(statSync(join(dataDir, 'gaia.db')).isFile()).toBe(true);

    const docs = await fetch(`${url}/docs`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('/docs/swagger-ui.css');
    const css = await fetch(`${url}/docs/swagger-ui.css`);
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toStartWith('text/css');
    // Byte for byte the npm package's file, though nothing of node_modules is reachable from runDir.
    const expected = readFileSync(join(ROOT, 'node_modules/swagger-ui-dist/swagger-ui.css'), 'utf8');
    expect(await css.text()).toBe(expected);
    const js = await fetch(`${url}/docs/swagger-ui-bundle.js`);
    expect(js.status).toBe(200);
    expect((await js.arrayBuffer()).byteLength).toBeGreaterThan(100_000);

    // The web UI's static files come from inside the binary: no public/ exists beside it or in runDir.
    for (const rel of ['htmx.min.js', 'gaia.css', 'gaia.js', 'vendor/uPlot.iife.min.js', 'favicon.svg']) {
      const res = await fetch(`http://127.0.0.1:${webPort}/static/${rel}`);
      expect(res.status, `GET /static/${rel}`).toBe(200);
      const file =
        rel.includes('/') || rel === 'favicon.svg'
          ? rel
          : rel.endsWith('.css')
            ? `css/${rel}`
            : rel.endsWith('htmx.min.js')
              ? `vendor/${rel}`
              : `js/${rel}`;
      expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(join(ROOT, 'public', file))), rel).toBe(
        true,
      );
    }

    // The image's HEALTHCHECK script (from the Dockerfile) against the real binary.
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const script = /<<'EOF' \/app\/healthcheck\n([\s\S]*?)\nEOF\n/.exec(dockerfile)?.[1];
    expect(script).toBeDefined();
    const probePath = join(dir, 'healthcheck');
    writeFileSync(probePath, `${script}\n`);
    chmodSync(probePath, 0o755);
    const probe = Bun.spawn(['bash', probePath], {
      env: { PATH: process.env.PATH ?? '', GATEWAY_PORT: String(port) },
    });
    expect(await probe.exited).toBe(0);

    const stopAt = performance.now();
    proc.kill('SIGTERM');
    expect(await exitWithin(proc, 5000)).toBe(0);
    expect(performance.now() - stopAt).toBeLessThan(5000);
    expect(await output).toContain('shutting down');
  }, 30_000);

  test('operator commands run against a temporary database from any folder', async () => {
    const data = join(dir, 'cli-data');
    const env = { GAIA_ENV: 'development', GAIA_DATA_DIR: data };
    const run = async (...args: string[]) => {
      const p = Bun.spawn([binary, ...args], {
        cwd: runDir,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, ...env },
        stdout: 'pipe',
        stderr: 'pipe',
      });
      const [code, out, err] = await Promise.all([
        p.exited,
        new Response(p.stdout).text(),
        new Response(p.stderr).text(),
      ]);
      return { code, out, err };
    };
    expect((await run('migrate')).code).toBe(0);
    expect((await run('seed')).code).toBe(0);
    const user = await run('create-user', 'ops@example.com', 'Ops');
    expect(user.code).toBe(0);
    const password = /password: (\S+)/.exec(user.out)?.[1];
    expect(password?.length).toBeGreaterThanOrEqual(32);
    const key = await run('create-api-key', 'ops@example.com', 'CI box');
    expect(key.code).toBe(0);
    const raw = /^(gaia_dev_[A-Za-z0-9]{43})$/m.exec(key.out)?.[1];
    expect(raw).toBeDefined();
    expect((await run('grant-admin', 'ops@example.com')).code).toBe(0);
    expect((await run('revoke-admin', 'ops@example.com')).code).toBe(0);
    expect((await run('create-api-key', 'nobody@example.com')).code).toBe(1);
    expect((await run('create-user', 'ops@example.com')).code).toBe(1);
    expect((await run('frobnicate')).code).not.toBe(0);

    // The account, the key and the role are real: a server on that database accepts them.
    const port = freePort();
    const { proc } = start({
      ...env,
      GATEWAY_PORT: String(port),
      WEB_PORT: String(freePort()),
      HOST: '127.0.0.1',
    });
    const url = `http://127.0.0.1:${port}`;
    await waitForHealth(url, 10_000);
    const health = await run('health', url);
    expect(health.code).toBe(0);
    expect(JSON.parse(health.out).status).toBe('healthy');
    const login = await fetch(`${url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'ops@example.com', password }),
    });
    expect(login.status).toBe(200);
    const me = await fetch(`${url}/api/v1/auth/user`, { headers: { 'x-api-key': raw! } });
    expect(me.status).toBe(200);
    expect((await me.json()).email).toBe('ops@example.com');
    proc.kill('SIGTERM');
    await exitWithin(proc, 5000);
    expect((await run('health', url)).code).toBe(1);
  }, 60_000);
});
