/**
 * `bun run db:migrate` and `bun run db:seed`, configured like the server (DATABASE_URL, GAIA_SEED_DEV…).
 * `migrate` applies pending migrations and then seeds, exactly as a starting service does, so operators
 * who set DATABASE_AUTO_MIGRATE=false run it once per release. `seed` only re-runs the idempotent seeds
 * and refuses to touch a database with pending migrations.
 * `grant-admin <email>` / `revoke-admin <email>` give or take the global `admin` role: no HTTP endpoint
 * writes roles, so making an administrator is an operator's act.
 */

import { and, eq } from 'drizzle-orm';
import { loadConfig } from '../src/config.ts';
import { makeLogger } from '../src/platform.ts';
import { type Db, describeDbError, migrateDb, openDb } from './index.ts';

const USAGE = 'usage: bun db/cli.ts <migrate|seed|grant-admin EMAIL|revoke-admin EMAIL>';

export async function setAdmin(db: Db, email: string, grant: boolean): Promise<string> {
  const { t, orm } = db;
  const users = await orm
    .select({ id: t.users.id })
    .from(t.users)
    .where(eq(t.users.email, email.trim().toLowerCase()));
  const user = users[0];
  if (!user) throw new Error(`no user with email ${email}`);
  const roles = await orm.select({ id: t.roles.id }).from(t.roles).where(eq(t.roles.name, 'admin'));
  const role = roles[0];
  if (!role) throw new Error('the admin role is missing: run `bun run db:migrate` first');
  const key = and(
    eq(t.userRoles.userId, user.id),
    eq(t.userRoles.roleId, role.id),
    eq(t.userRoles.contextType, 'global'),
    eq(t.userRoles.contextId, 'global'),
  );
  if (grant) {
    await orm
      .insert(t.userRoles)
      .values({
        userId: user.id,
        roleId: role.id,
        contextType: 'global',
        contextId: 'global',
        assignedAt: new Date(),
      })
      .onConflictDoNothing();
    return `${email} is an administrator (gateways pick it up within GAIA_API_KEY_CACHE_TTL_S)`;
  }
  await orm.delete(t.userRoles).where(key);
  return `${email} is no longer an administrator`;
}

/** `migrate`, `seed`, `grant-admin EMAIL`, `revoke-admin EMAIL`; the exit code. */
export async function dbCommand(command: string | undefined, arg: string | undefined): Promise<number> {
  const known = ['migrate', 'seed', 'grant-admin', 'revoke-admin'];
  if (!command || !known.includes(command) || (command.endsWith('-admin') && !arg)) {
    console.error(USAGE);
    return 2;
  }
  const config = loadConfig();
  const log = makeLogger(config, 'db');
  const { database } = config;
  const base = { ...database, seedDev: config.seedDev, isProduction: config.isProduction, log };
  // `migrate` is what every starting process does; `seed` first insists nothing is pending, then runs the
  // migrator, which applies nothing and seeds under the same lock as starting services.
  const db = await openDb({ ...base, autoMigrate: command === 'migrate' });
  try {
    if (command === 'grant-admin' || command === 'revoke-admin') {
      log.info(await setAdmin(db, arg!, command === 'grant-admin'));
      return 0;
    }
    if (command === 'seed')
      await migrateDb(db, { seedDev: config.seedDev, isProduction: config.isProduction, log });
    log.info(command === 'migrate' ? 'database is up to date' : 'seed data is in place', {
      database: db.kind,
    });
    return 0;
  } finally {
    await db.close();
  }
}

if (import.meta.main) {
  dbCommand(process.argv[2], process.argv[3]).then(
    (code) => process.exit(code),
    (err) => {
      // Our own errors are written for operators; driver errors are shortened and stripped of URLs.
      const ours = err instanceof Error && (err.name === 'MigrationError' || err.name === 'ConfigError');
      console.error(`db: ${ours ? err.message : describeDbError(err)}`);
      process.exit(1);
    },
  );
}
