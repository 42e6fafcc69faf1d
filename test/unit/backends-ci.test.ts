/**
 * On CI the PostgreSQL and NATS passes must fail, not skip, when their servers cannot be reached
 * (DEVELOPERS.md, spec/data.md §7 "Tests"). Checked in a child process with nothing listening on the ports.
 */
import { expect, test } from 'bun:test';
import { join } from 'node:path';

const ROOT = join(import.meta.dir, '..', '..');
const probe = `import { testBackends, natsTestUrl } from './test/support/backends.ts';
console.log(JSON.stringify({ backends: testBackends().map((b) => b.name), nats: natsTestUrl() ?? null }));`;

function run(env: Record<string, string>) {
  return Bun.spawnSync([process.execPath, '-e', probe], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
  });
}

const DEAD_PG = 'postgres://postgres@127.0.0.1:1/test';
const DEAD_NATS = 'nats://127.0.0.1:1';

test('CI=true: an unreachable PostgreSQL or NATS fails the run', () => {
  const pg = run({ CI: 'true', GAIA_TEST_DATABASE_URL: DEAD_PG });
  expect(pg.exitCode).not.toBe(0);
  expect(pg.stderr.toString()).toContain('CI=true');
  const nats = run({ CI: 'true', GAIA_TEST_NATS_URL: DEAD_NATS });
  expect(nats.exitCode).not.toBe(0);
});

test('locally the same servers are skipped with a warning, and SQLite still runs', () => {
  const res = run({ GAIA_TEST_DATABASE_URL: DEAD_PG, GAIA_TEST_NATS_URL: DEAD_NATS });
  expect(res.exitCode).toBe(0);
  expect(JSON.parse(res.stdout.toString())).toEqual({ backends: ['sqlite'], nats: null });
});
