/**
 * `bun run dev` from the repo root, as a developer starts Gaia: /health within 2 s of the spawn with the
 * spec's shape (gateway.md §8), the published dev API key accepted, a clean exit 0 on SIGTERM, and a second
 * start on the same data folder keeps what the first one wrote.
 */

import { Database } from 'bun:sqlite';
import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';

const ROOT = join(import.meta.dir, '..', '..');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
/** Published in spec/data.md §4; only its SHA-256 is stored. */
const DEV_API_KEY = 'FJUeDkZRy0uPp7cYtavMsIfwi7weF9-RT7BeOlusqnE';
const DEV_API_KEY_ID = '00000000-0000-4000-8000-000000000002';
const DEV_USER_ID = '00000000-0000-4000-8000-000000000001';

const dir = mkdtempSync(join(tmpdir(), 'gaia-launch-'));
const dataDir = join(dir, 'data');
const procs: Subprocess[] = [];

afterAll(async () => {
  for (const p of procs) {
    if (p.exitCode !== null) continue;
    try {
      // Detached: the group holds `bun run` and the `bun wiring/main.ts` it started.
      process.kill(-p.pid, 'SIGKILL');
    } catch {
      p.kill('SIGKILL');
    }
  }
  await Promise.all(procs.map((p) => p.exited));
  rmSync(dir, { recursive: true, force: true });
});

function freePort(): number {
  const s = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('') });
  const port = s.port!;
  s.stop(true);
  return port;
}

interface Launch {
  proc: Subprocess;
  url: string;
  spawnedAt: number;
  output: Promise<string>;
}

function launch(): Launch {
  const port = freePort();
  const spawnedAt = performance.now();
  const proc = Bun.spawn([process.execPath, 'run', 'dev'], {
    cwd: ROOT,
    detached: true,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? dir,
      GAIA_ENV: 'development',
      GAIA_DATA_DIR: dataDir,
      GATEWAY_PORT: String(port),
      WEB_PORT: String(freePort()),
      HOST: '127.0.0.1',
      // A developer's .env must not redirect this run: empty counts as unset, and Bun lets the
      // environment win over .env.
      DATABASE_URL: '',
      NATS_URL: '',
      AUTH_SERVICE_URL: '',
      ASSET_SERVICE_URL: '',
      CHAT_SERVICE_URL: '',
      KB_SERVICE_URL: '',
      GAIA_SERVICE: '',
      GAIA_SEED_DEV: 'true',
    },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  procs.push(proc);
  const output = Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]).then((p) =>
    p.join(''),
  );
  return { proc, url: `http://127.0.0.1:${port}`, spawnedAt, output };
}

/** Polls /health; returns the first 200 and how long after the spawn it came. */
async function firstHealth(l: Launch, timeoutMs: number): Promise<{ body: any; afterMs: number }> {
  for (;;) {
    try {
      const res = await fetch(`${l.url}/health`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return { body: await res.json(), afterMs: performance.now() - l.spawnedAt };
    } catch {
      // not listening yet
    }
    if (l.proc.exitCode !== null)
      throw new Error(`bun run dev exited (${l.proc.exitCode}):\n${await l.output}`);
    if (performance.now() - l.spawnedAt > timeoutMs)
      throw new Error(
        `no 200 from /health within ${timeoutMs} ms:\n${await Promise.race([l.output, Bun.sleep(100).then(() => '')])}`,
      );
    await Bun.sleep(25);
  }
}

async function stop(l: Launch): Promise<{ code: number | 'timeout'; ms: number; output: string }> {
  const at = performance.now();
  l.proc.kill('SIGTERM');
  const code = await Promise.race([l.proc.exited, Bun.sleep(10_000).then(() => 'timeout' as const)]);
  return {
    code,
    ms: performance.now() - at,
    output: await Promise.race([l.output, Bun.sleep(1000).then(() => '')]),
  };
}

interface Snapshot {
  users: number;
  devUserCreatedAt: unknown;
  devKeyLastUsedAt: unknown;
  migrations: Array<Record<string, unknown>>;
}
function snapshot(): Snapshot {
  const db = new Database(join(dataDir, 'gaia.db'), { readonly: true });
  try {
    return {
      users: (db.query('SELECT count(*) AS n FROM users').get() as { n: number }).n,
      devUserCreatedAt: (db.query('SELECT created_at FROM users WHERE id = ?').get(DEV_USER_ID) as any)
        ?.created_at,
      devKeyLastUsedAt: (
        db.query('SELECT last_used_at FROM api_keys WHERE id = ?').get(DEV_API_KEY_ID) as any
      )?.last_used_at,
      migrations: db.query('SELECT * FROM schema_migrations ORDER BY version').all() as Array<
        Record<string, unknown>
      >,
    };
  } finally {
    db.close();
  }
}

describe('bun run dev', () => {
  let afterFirst: Snapshot;
  let jwtSecret: string;

  test('answers /health within 2 s of the spawn, with the spec shape', async () => {
    const l = launch();
    const { body, afterMs } = await firstHealth(l, 10_000);
    console.log(`[launch] /health answered ${afterMs.toFixed(0)} ms after the spawn`);
    expect(afterMs).toBeLessThan(2000);

    expect(Object.keys(body).sort()).toEqual([
      'database',
      'nats',
      'services',
      'status',
      'timestamp',
      'version',
    ]);
    expect(['healthy', 'degraded', 'unhealthy']).toContain(body.status);
    expect(body.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(body.version).toBe(VERSION);
    expect(Object.keys(body.services).sort()).toEqual(['asset', 'auth', 'chat', 'kb']);
    for (const s of Object.values(body.services) as Array<Record<string, unknown>>) {
      expect(['healthy', 'unhealthy']).toContain(s.status as string);
      expect('response_time' in s || 'error' in s).toBe(true);
    }
    expect(body.database).toEqual({ status: 'healthy', database: 'sqlite', responsive: true });
    expect(body.nats).toEqual({ status: 'healthy', connected: true, mode: 'memory' });

    // The dev key is accepted: a wrong key is 401 on an authenticated route, the dev key is not.
    const wrong = await fetch(`${l.url}/api/v1/auth/api-keys`, {
      headers: { 'X-API-Key': 'not-a-real-key-000000' },
    });
    expect(wrong.status).toBe(401);
    const dev = await fetch(`${l.url}/api/v1/auth/api-keys`, { headers: { 'X-API-Key': DEV_API_KEY } });
    expect(dev.status).not.toBe(401);
    expect(dev.status).not.toBe(403);

    // Using the key stamps api_keys.last_used_at (off the request path): wait for it to land.
    const deadline = performance.now() + 3000;
    while (!snapshot().devKeyLastUsedAt && performance.now() < deadline) await Bun.sleep(50);
    expect(snapshot().devKeyLastUsedAt).toBeTruthy();

    const stopped = await stop(l);
    expect(stopped.code).toBe(0);
    expect(stopped.ms).toBeLessThan(5000);
    expect(stopped.output).toContain('shutting down');
    expect(stopped.output).toContain('applied migration');
    // The dev key itself is never logged.
    expect(stopped.output).not.toContain(DEV_API_KEY);

    afterFirst = snapshot();
    jwtSecret = readFileSync(join(dataDir, 'jwt-secret'), 'utf8');
    expect(afterFirst.users).toBeGreaterThanOrEqual(1);
    expect(afterFirst.migrations.length).toBeGreaterThanOrEqual(1);
  }, 30_000);

  test('a second start on the same data folder keeps what the first wrote', async () => {
    expect(afterFirst).toBeDefined();
    const l = launch();
    const { body } = await firstHealth(l, 10_000);
    expect(body.database.status).toBe('healthy');
    const stopped = await stop(l);
    expect(stopped.code).toBe(0);
    // Nothing was migrated again...
    expect(stopped.output).not.toContain('applied migration');
    // ...and the rows and secrets of the first run are the same ones, not recreated.
    expect(snapshot()).toEqual(afterFirst);
    expect(readFileSync(join(dataDir, 'jwt-secret'), 'utf8')).toBe(jwtSecret);
  }, 30_000);
});
