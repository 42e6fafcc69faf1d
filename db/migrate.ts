/**
 * The migrator. Every process that opens the database runs it:
 *   1. take a lock (`pg_advisory_lock` on a fixed key; `BEGIN IMMEDIATE` in SQLite), so concurrent
 *      starters wait and then find nothing to do;
 *   2. check that every applied migration's checksum still matches its file;
 *   3. apply each pending migration in its own transaction and record it in `schema_migrations`;
 *   4. run the seeds (seed.ts).
 * Running it twice changes nothing.
 */
import type { Database } from 'bun:sqlite';
import { drizzle as drizzlePg } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { DbLog, Orm } from './index.ts';
import type { Mutex } from './lock.ts';
import { migrationSources } from './migrations/index.ts';
import type { Schema } from './schema/define.ts';
import { pgSchema } from './schema/pg.ts';
import { type SeedOptions, seed } from './seed.ts';

export type MigrateTarget =
  | { kind: 'sqlite'; client: Database; mutex: Mutex; orm: Orm; t: Schema }
  | { kind: 'postgresql'; url: string };

export interface Migration {
  version: number;
  name: string;
  /** `NNNN_<name>.sql` */
  file: string;
  sql: string;
  /** Lower-case hex SHA-256 of the file. */
  checksum: string;
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/**
 * Any fixed 64-bit number works as long as every Gaia process uses the same one; this is the first
 * 8 bytes of SHA-256("gaia.schema_migrations") as a signed bigint, unlikely to collide with other apps.
 */
export const PG_MIGRATION_LOCK_KEY = '4912520506435291282';

/**
 * The migrator creates `schema_migrations` itself, before any migration, exactly as 0000_init.sql declares
 * it (that file says `IF NOT EXISTS`, so replaying it is harmless).
 */
const BOOTSTRAP = {
  postgresql: `CREATE TABLE IF NOT EXISTS "schema_migrations" (
	"version" integer PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"checksum" text NOT NULL,
	"applied_at" timestamp (3) with time zone NOT NULL
);`,
  sqlite: `CREATE TABLE IF NOT EXISTS \`schema_migrations\` (
	\`version\` integer PRIMARY KEY NOT NULL,
	\`name\` text NOT NULL,
	\`checksum\` text NOT NULL,
	\`applied_at\` integer NOT NULL
);`,
};

export function sha256Hex(text: string): string {
  return new Bun.CryptoHasher('sha256').update(text).digest('hex');
}

/** The shipped migrations of a dialect, in order. */
export function loadMigrations(
  kind: 'sqlite' | 'postgresql',
  sources: Array<{ file: string; sql: string }> = migrationSources[kind],
): Migration[] {
  const out = sources.map(({ file, sql }) => {
    const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!m) throw new MigrationError(`Bad migration file name ${file} (expected NNNN_name.sql)`);
    return { version: Number(m[1]), name: m[2]!, file, sql, checksum: sha256Hex(sql) };
  });
  out.sort((a, b) => a.version - b.version);
  for (let i = 1; i < out.length; i++) {
    if (out[i]!.version === out[i - 1]!.version)
      throw new MigrationError(`Two migrations share version ${out[i]!.version}`);
  }
  return out;
}

export function splitStatements(sql: string): string[] {
  return sql
    .split('--> statement-breakpoint')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
}

/** Step 2: throws when a shipped migration was edited after it was applied. Returns the pending ones. */
function verify(applied: AppliedRow[], migrations: Migration[], log: DbLog): Migration[] {
  const byVersion = new Map(migrations.map((m) => [m.version, m]));
  for (const row of applied) {
    const m = byVersion.get(Number(row.version));
    if (!m) {
      // A newer release migrated this database; forward-only migrations keep older code working.
      log.warn('database has a migration this build does not know', { version: row.version, name: row.name });
      continue;
    }
    if (m.checksum !== row.checksum) {
      throw new MigrationError(
        `Migration ${m.file} was changed after it was applied (checksum ${row.checksum} in the database, ` +
          `${m.checksum} in the file). Shipped migrations must never be edited: restore the file and add a ` +
          'new migration instead.',
      );
    }
  }
  const done = new Set(applied.map((r) => Number(r.version)));
  return migrations.filter((m) => !done.has(m.version));
}

export interface MigrateOptions {
  /** Run the seeds after migrating (false: migrations only). */
  seed: SeedOptions | false;
  log: DbLog;
  /** For tests: the migrations to apply instead of the shipped ones. */
  migrations?: Migration[];
}

export async function migrate(target: MigrateTarget, opts: MigrateOptions): Promise<{ applied: string[] }> {
  const migrations = opts.migrations ?? loadMigrations(target.kind);
  return target.kind === 'sqlite'
    ? migrateSqlite(target, migrations, opts)
    : migratePostgres(target.url, migrations, opts);
}

/** The migrations not applied yet (checksums of applied ones are verified too); creates nothing. */
export async function pendingMigrations(
  target: MigrateTarget,
  migrations?: Migration[],
): Promise<Migration[]> {
  const all = migrations ?? loadMigrations(target.kind);
  const silent: DbLog = { info: () => {}, warn: () => {} };
  if (target.kind === 'sqlite') {
    const exists = target.client
      .query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
      .get();
    if (!exists) return all;
    return verify(appliedSqlite(target.client), all, silent);
  }
  const sql = postgres(target.url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql`SELECT to_regclass('schema_migrations') IS NOT NULL AS present`;
    if (!row?.present) return all;
    return verify(await appliedPostgres(sql), all, silent);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

// ── SQLite ──────────────────────────────────────────────────────────────────────────────────────────────

function appliedSqlite(client: Database): AppliedRow[] {
  return client
    .query('SELECT version, name, checksum FROM schema_migrations ORDER BY version')
    .all() as AppliedRow[];
}

async function migrateSqlite(
  target: Extract<MigrateTarget, { kind: 'sqlite' }>,
  migrations: Migration[],
  opts: MigrateOptions,
): Promise<{ applied: string[] }> {
  const { client } = target;
  const applied: string[] = [];
  // The in-process mutex keeps other connections of this process from busy-waiting on the file lock
  // (lock.ts); BEGIN IMMEDIATE is the lock between processes.
  await target.mutex.run(async () => {
    client.exec(BOOTSTRAP.sqlite);
    // SQLite's documented way to change schemas: foreign keys off around the transaction (it cannot be
    // switched inside one), so rebuilding a table does not cascade deletes; checked before commit instead.
    client.exec('PRAGMA foreign_keys = OFF');
    try {
      // One migration per transaction, re-reading the applied list under the lock each time, so a
      // process that waited sees what the other one did.
      for (;;) {
        client.exec('BEGIN IMMEDIATE');
        try {
          const next = verify(appliedSqlite(client), migrations, opts.log)[0];
          if (!next) {
            client.exec('COMMIT');
            break;
          }
          for (const stmt of splitStatements(next.sql)) client.run(stmt);
          const violations = client.query('PRAGMA foreign_key_check').all();
          if (violations.length > 0)
            throw new MigrationError(`Migration ${next.file} leaves foreign keys violated`);
          client
            .query('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)')
            .run(next.version, next.name, next.checksum, Date.now());
          client.exec('COMMIT');
          applied.push(next.file);
          opts.log.info('applied migration', { migration: next.file, database: 'sqlite' });
        } catch (err) {
          if (client.inTransaction) client.exec('ROLLBACK');
          throw err;
        }
      }
    } finally {
      client.exec('PRAGMA foreign_keys = ON');
    }
    if (opts.seed) {
      const seedOpts = opts.seed;
      client.exec('BEGIN IMMEDIATE');
      try {
        await seed(target.orm, target.t, { ...seedOpts, kind: 'sqlite', log: opts.log });
        client.exec('COMMIT');
      } catch (err) {
        if (client.inTransaction) client.exec('ROLLBACK');
        throw err;
      }
    }
  });
  return { applied };
}

// ── PostgreSQL ──────────────────────────────────────────────────────────────────────────────────────────

async function appliedPostgres(sql: postgres.Sql): Promise<AppliedRow[]> {
  return (await sql`SELECT version, name, checksum FROM schema_migrations ORDER BY version`) as unknown as AppliedRow[];
}

async function migratePostgres(
  url: string,
  migrations: Migration[],
  opts: MigrateOptions,
): Promise<{ applied: string[] }> {
  // A dedicated single connection: the advisory lock belongs to the session, and everything below must
  // run on the connection that holds it (and must not compete with a small pool).
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const applied: string[] = [];
  try {
    await sql`SELECT pg_advisory_lock(${PG_MIGRATION_LOCK_KEY}::bigint)`;
    try {
      await sql.unsafe(BOOTSTRAP.postgresql);
      const pending = verify(await appliedPostgres(sql), migrations, opts.log);
      for (const m of pending) {
        await sql.begin(async (tx) => {
          for (const stmt of splitStatements(m.sql)) await tx.unsafe(stmt);
          await tx`INSERT INTO schema_migrations (version, name, checksum, applied_at)
                   VALUES (${m.version}, ${m.name}, ${m.checksum}, ${new Date()})`;
        });
        applied.push(m.file);
        opts.log.info('applied migration', { migration: m.file, database: 'postgresql' });
      }
      if (opts.seed) {
        const seedOpts = opts.seed;
        const orm = drizzlePg(sql, { schema: pgSchema });
        await orm.transaction((tx) =>
          seed(tx as unknown as Orm, pgSchema, { ...seedOpts, kind: 'postgresql', log: opts.log }),
        );
      }
    } finally {
      // If the connection is gone the session lock went with it; keep the original error.
      await sql`SELECT pg_advisory_unlock(${PG_MIGRATION_LOCK_KEY}::bigint)`.catch(() => {});
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
  return { applied };
}
