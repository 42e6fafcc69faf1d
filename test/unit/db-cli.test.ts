/** The operator commands of db/cli.ts, run as an operator would: a separate process on the same database. */
import { afterAll, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, eq } from 'drizzle-orm';
import { openDb } from '../../db/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'gaia-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const root = join(import.meta.dir, '../..');

function cli(...args: string[]) {
  return Bun.spawnSync(['bun', 'db/cli.ts', ...args], {
    cwd: root,
    env: { ...process.env, GAIA_DATA_DIR: dir, GAIA_ENV: 'test', LOG_LEVEL: 'error' },
  });
}

test('migrate, then grant-admin and revoke-admin change the global admin role', async () => {
  expect(cli('migrate').exitCode).toBe(0);
  const db = await openDb({
    url: `sqlite:${join(dir, 'gaia.db')}`,
    kind: 'sqlite',
    sqlitePath: join(dir, 'gaia.db'),
    poolMax: 1,
    autoMigrate: false,
    seedDev: true,
    isProduction: false,
  });
  try {
    const id = crypto.randomUUID();
    const now = new Date();
    await db.orm.insert(db.t.users).values({ id, email: 'ops@example.com', createdAt: now, updatedAt: now });
    const adminRows = async () =>
      db.orm
        .select()
        .from(db.t.userRoles)
        .innerJoin(db.t.roles, eq(db.t.roles.id, db.t.userRoles.roleId))
        .where(and(eq(db.t.userRoles.userId, id), eq(db.t.roles.name, 'admin')));
    expect(await adminRows()).toHaveLength(0);
    expect(cli('grant-admin', 'Ops@Example.com').exitCode).toBe(0);
    expect(await adminRows()).toHaveLength(1);
    expect(cli('grant-admin', 'ops@example.com').exitCode).toBe(0);
    expect(await adminRows()).toHaveLength(1);
    expect(cli('revoke-admin', 'ops@example.com').exitCode).toBe(0);
    expect(await adminRows()).toHaveLength(0);
    const missing = cli('grant-admin', 'nobody@example.com');
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr.toString()).toContain('no user with email nobody@example.com');
    expect(cli('grant-admin').exitCode).toBe(2);
  } finally {
    await db.close();
  }
}, 30_000);
