/**
 * `bun run db:migrate` and `bun run db:seed`, configured like the server (DATABASE_URL, GAIA_SEED_DEV…).
 * `migrate` applies pending migrations and then seeds, exactly as a starting service does, so operators
 * who set DATABASE_AUTO_MIGRATE=false run it once per release. `seed` only re-runs the idempotent seeds
 * and refuses to touch a database with pending migrations.
 */
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { describeDbError, migrateDb, openDb } from './index.ts';

const USAGE = 'usage: bun db/cli.ts <migrate|seed>';

async function main(command: string | undefined): Promise<number> {
  if (command !== 'migrate' && command !== 'seed') {
    console.error(USAGE);
    return 2;
  }
  const config = loadConfig();
  const log = createLogger({ service: 'db', level: config.logLevel, json: config.isProduction });
  const { database } = config;
  const base = { ...database, seedDev: config.seedDev, isProduction: config.isProduction, log };
  // `migrate` is what every starting process does; `seed` first insists nothing is pending, then runs the
  // migrator, which applies nothing and seeds under the same lock as starting services.
  const db = await openDb({ ...base, autoMigrate: command === 'migrate' });
  try {
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
  main(process.argv[2]).then(
    (code) => process.exit(code),
    (err) => {
      // Our own errors are written for operators; driver errors are shortened and stripped of URLs.
      const ours = err instanceof Error && (err.name === 'MigrationError' || err.name === 'ConfigError');
      console.error(`db: ${ours ? err.message : describeDbError(err)}`);
      process.exit(1);
    },
  );
}
