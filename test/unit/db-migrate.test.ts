/**
 * The migrator and the connection settings (spec/data.md §1, §3): migrating is idempotent, safe with
 * concurrent starters, stops on an edited migration or a failing one, and SQLite runs with WAL and
 * foreign keys.
 */

import { Database } from 'bun:sqlite';
import { afterAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/bun-sqlite';
import postgres from 'postgres';
import type { Orm } from '../../db/index.ts';
import { type Db, migrateDb, type OpenDbOptions, openDb } from '../../db/index.ts';
import { Mutex } from '../../db/lock.ts';
import { loadMigrations, type MigrateTarget, migrate, sha256Hex } from '../../db/migrate.ts';
import { sqliteSchema } from '../../db/schema/sqlite.ts';
import { dropTestDatabases, testBackends } from '../support/backends.ts';

const quiet = { info: () => {}, warn: () => {} };

function openOpts(url: string, over: Partial<OpenDbOptions> = {}): OpenDbOptions {
  const kind = url.startsWith('sqlite:') ? ('sqlite' as const) : ('postgresql' as const);
  return {
    url,
    kind,
    sqlitePath: kind === 'sqlite' ? url.slice('sqlite:'.length) : '',
    poolMax: 3,
    autoMigrate: true,
    seedDev: false,
    isProduction: false,
    log: quiet,
    ...over,
  };
}

async function count(db: Db, table: string): Promise<number> {
  const [row] = await db.all<{ n: number | string }>(sql`SELECT count(*) AS n FROM ${sql.identifier(table)}`);
  return Number(row!.n);
}

async function tableExists(db: Db, table: string): Promise<boolean> {
  const rows =
    db.kind === 'sqlite'
      ? await db.all(sql`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ${table}`)
      : await db.all(
          sql`SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = ${table}`,
        );
  return rows.length > 0;
}

function targetFor(db: Db, url: string): { target: MigrateTarget; close(): void } {
  if (db.kind === 'postgresql') return { target: { kind: 'postgresql', url }, close: () => {} };
  const client = new Database(url.slice('sqlite:'.length));
  client.exec('PRAGMA busy_timeout = 5000');
  const orm = drizzle(client, { schema: sqliteSchema }) as unknown as Orm;
  return {
    target: { kind: 'sqlite', client, mutex: new Mutex(), orm, t: sqliteSchema },
    close: () => client.close(),
  };
}

afterAll(dropTestDatabases);

for (const backend of testBackends()) {
  describe(`migrations on ${backend.name}`, () => {
    test('running twice changes nothing', async () => {
      const url = await backend.databaseUrl();
      const db = await openDb(openOpts(url));
      try {
        const applied = await db.all<{ version: number; name: string; checksum: string }>(
          sql`SELECT version, name, checksum FROM schema_migrations ORDER BY version`,
        );
        const shipped = loadMigrations(db.kind);
        expect(applied.map((r) => [Number(r.version), r.name, r.checksum])).toEqual(
          shipped.map((m) => [m.version, m.name, m.checksum]),
        );
        await db.orm.insert(db.t.users).values({ id: crypto.randomUUID(), email: 'keep@example.com' });
        expect(await migrateDb(db, { seedDev: false, isProduction: false })).toEqual({ applied: [] });
      } finally {
        await db.close();
      }
      const again = await openDb(openOpts(url));
      try {
        expect(await count(again, 'schema_migrations')).toBe(loadMigrations(again.kind).length);
        expect(await count(again, 'users')).toBe(1);
        expect(await count(again, 'roles')).toBe(11);
      } finally {
        await again.close();
      }
    });

    test('concurrent starters wait for each other and find nothing to do', async () => {
      const url = await backend.databaseUrl();
      const dbs = await Promise.all([1, 2, 3, 4].map(() => openDb(openOpts(url, { seedDev: true }))));
      try {
        const db = dbs[0]!;
        expect(await count(db, 'schema_migrations')).toBe(loadMigrations(db.kind).length);
        expect(await count(db, 'roles')).toBe(11);
        expect(await count(db, 'permissions')).toBe(22);
        expect(await count(db, 'users')).toBe(1);
        expect(await count(db, 'api_keys')).toBe(1);
        expect(await count(db, 'personas')).toBe(1);
        expect(await count(db, 'asset_sources')).toBe(10);
      } finally {
        await Promise.all(dbs.map((d) => d.close()));
      }
    });

    test('concurrent starters in separate processes', async () => {
      const url = await backend.databaseUrl();
      const script = `
        import { openDb } from ${JSON.stringify(join(import.meta.dir, '../../db/index.ts'))};
        const url = process.env.URL;
        const kind = url.startsWith('sqlite:') ? 'sqlite' : 'postgresql';
        const db = await openDb({ url, kind, sqlitePath: kind === 'sqlite' ? url.slice(7) : '', poolMax: 2,
          autoMigrate: true, seedDev: true, isProduction: false });
        await db.close();`;
      const procs = [1, 2, 3].map(() =>
        Bun.spawn([process.execPath, '-e', script], { env: { ...process.env, URL: url }, stderr: 'pipe' }),
      );
      const codes = await Promise.all(procs.map((p) => p.exited));
      const errors = await Promise.all(procs.map((p) => new Response(p.stderr).text()));
      expect({ codes, errors: errors.filter(Boolean) }).toEqual({ codes: [0, 0, 0], errors: [] });
      const db = await openDb(openOpts(url));
      try {
        expect(await count(db, 'schema_migrations')).toBe(loadMigrations(db.kind).length);
        expect(await count(db, 'roles')).toBe(11);
        expect(await count(db, 'role_permissions')).toBe(75);
        expect(await count(db, 'users')).toBe(1);
      } finally {
        await db.close();
      }
    }, 60_000);

    test('an edited migration stops the start with a clear error', async () => {
      const url = await backend.databaseUrl();
      const db = await openDb(openOpts(url));
      await db.all(sql`UPDATE schema_migrations SET checksum = ${sha256Hex('edited')} WHERE version = 0`);
      await db.close();
      await expect(openDb(openOpts(url))).rejects.toThrow(/0000_init\.sql was changed after it was applied/);
    });

    test('a failing migration is rolled back whole and not recorded', async () => {
      const url = await backend.databaseUrl();
      const db = await openDb(openOpts(url));
      const { target, close } = targetFor(db, url);
      try {
        const shipped = loadMigrations(db.kind);
        const bad = `CREATE TABLE broken_one (id integer);\n--> statement-breakpoint\nSELECT * FROM no_such_table;`;
        const next = shipped.at(-1)!.version + 1;
        const extra = {
          version: next,
          name: 'broken',
          file: `${String(next).padStart(4, '0')}_broken.sql`,
          sql: bad,
          checksum: sha256Hex(bad),
        };
        await expect(
          migrate(target, { seed: false, log: quiet, migrations: [...shipped, extra] }),
        ).rejects.toThrow(/no_such_table/);
        expect(await tableExists(db, 'broken_one')).toBe(false);
        expect(await count(db, 'schema_migrations')).toBe(shipped.length);

        const good = 'CREATE TABLE added_later (id integer);';
        const fixed = {
          ...extra,
          name: 'added',
          file: extra.file.replace('broken', 'added'),
          sql: good,
          checksum: sha256Hex(good),
        };
        expect(await migrate(target, { seed: false, log: quiet, migrations: [...shipped, fixed] })).toEqual({
          applied: [fixed.file],
        });
        expect(await tableExists(db, 'added_later')).toBe(true);
      } finally {
        close();
        await db.close();
      }
    });

    test('0001_persona_tools keeps every existing row and its links, and the new columns start NULL', async () => {
      const url = await backend.databaseUrl();
      const shipped = loadMigrations(backend.name);
      const ids = {
        user: '11111111-1111-4111-8111-111111111111',
        persona: '22222222-2222-4222-8222-222222222222',
        conv: '33333333-3333-4333-8333-333333333333',
        msg: '44444444-4444-4444-8444-444444444444',
        usage: '55555555-5555-4555-8555-555555555555',
      };
      // The database as a release with only 0000 left it, holding rows whose foreign keys a table rebuild
      // would cascade through (preferences deleted, usage unlinked).
      const lite = backend.name === 'sqlite';
      const ts = lite ? '1700000000000' : 'to_timestamp(1700000000)';
      const yes = lite ? '1' : 'true';
      const rows = [
        `INSERT INTO users (id, email, app_metadata, user_metadata, created_at, updated_at) VALUES ('${ids.user}', 'old@example.com', '{}', '{}', ${ts}, ${ts})`,
        `INSERT INTO personas (id, name, description, system_prompt, personality_traits, capabilities, is_active, created_by, created_at, updated_at) VALUES ('${ids.persona}', 'Old', '', 'p', '{}', '{}', ${yes}, '${ids.user}', ${ts}, ${ts})`,
        `INSERT INTO user_persona_preferences (user_id, persona_id, updated_at) VALUES ('${ids.user}', '${ids.persona}', ${ts})`,
        `INSERT INTO conversations (id, user_id, title, title_locked, preview, is_active, created_at, updated_at) VALUES ('${ids.conv}', '${ids.user}', 'T', 0 = 1, '', ${yes}, ${ts}, ${ts})`,
        `INSERT INTO chat_messages (id, conversation_id, user_id, seq, role, content, status, persona_id, created_at) VALUES ('${ids.msg}', '${ids.conv}', '${ids.user}', 1, 'assistant', 'kept', 'complete', '${ids.persona}', ${ts})`,
        `INSERT INTO llm_usage (id, user_id, conversation_id, message_id, created_at) VALUES ('${ids.usage}', '${ids.user}', '${ids.conv}', '${ids.msg}', ${ts})`,
      ];
      if (lite) {
        const client = new Database(url.slice('sqlite:'.length));
        client.exec('PRAGMA foreign_keys = ON');
        const orm = drizzle(client, { schema: sqliteSchema }) as unknown as Orm;
        const target: MigrateTarget = { kind: 'sqlite', client, mutex: new Mutex(), orm, t: sqliteSchema };
        await migrate(target, { seed: false, log: quiet, migrations: shipped.slice(0, 1) });
        for (const q of rows) client.exec(q);
        client.close();
      } else {
        await migrate(
          { kind: 'postgresql', url },
          { seed: false, log: quiet, migrations: shipped.slice(0, 1) },
        );
        const pg = postgres(url, { max: 1, onnotice: () => {} });
        for (const q of rows) await pg.unsafe(q);
        await pg.end({ timeout: 5 });
      }

      const db = await openDb(openOpts(url));
      try {
        const { personas, chatMessages, llmUsage, userPersonaPreferences } = db.t;
        const [persona] = await db.orm.select().from(personas).where(eq(personas.id, ids.persona));
        expect(persona?.name).toBe('Old');
        expect(persona?.tools).toBeNull();
        const [msg] = await db.orm.select().from(chatMessages).where(eq(chatMessages.id, ids.msg));
        expect(msg?.content).toBe('kept');
        expect(msg?.personaId).toBe(ids.persona);
        expect(msg?.toolCalls).toBeNull();
        const [usage] = await db.orm.select().from(llmUsage).where(eq(llmUsage.id, ids.usage));
        expect(usage?.messageId).toBe(ids.msg);
        const prefs = await db.orm.select().from(userPersonaPreferences);
        expect(prefs.map((p) => p.personaId)).toEqual([ids.persona]);

        // The new columns hold JSON arrays, and an empty list stays distinct from NULL.
        await db.orm.update(personas).set({ tools: [] }).where(eq(personas.id, ids.persona));
        const [cleared] = await db.orm
          .select({ tools: personas.tools })
          .from(personas)
          .where(eq(personas.id, ids.persona));
        expect(cleared?.tools).toEqual([]);
        const call = {
          id: 'call_1',
          name: 'search_knowledge_base',
          arguments: { query: 'x' },
          ok: true,
          summary: '1 result',
          duration_ms: 3,
          result: 'r',
        };
        await db.orm
          .update(chatMessages)
          .set({ toolCalls: [call] })
          .where(eq(chatMessages.id, ids.msg));
        const [withCalls] = await db.orm
          .select({ c: chatMessages.toolCalls })
          .from(chatMessages)
          .where(eq(chatMessages.id, ids.msg));
        expect(withCalls?.c).toEqual([call]);
      } finally {
        await db.close();
      }
    }, 60_000);

    test('with DATABASE_AUTO_MIGRATE=false a pending migration stops the start', async () => {
      const url = await backend.databaseUrl();
      const files = loadMigrations(backend.name).map((m) => m.file);
      await expect(openDb(openOpts(url, { autoMigrate: false }))).rejects.toThrow(
        `${files.length} pending migration(s) (${files.join(', ')}) and DATABASE_AUTO_MIGRATE=false: run \`bun run db:migrate\``,
      );
      await (await openDb(openOpts(url))).close();
      const db = await openDb(openOpts(url, { autoMigrate: false }));
      try {
        expect(await count(db, 'roles')).toBe(11);
      } finally {
        await db.close();
      }
    });
  });
}

describe('SQLite connections', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const tempPath = (...parts: string[]) => {
    const dir = mkdtempSync(join(tmpdir(), 'gaia-db-test-'));
    dirs.push(dir);
    return join(dir, ...parts);
  };

  test('run WAL, synchronous=NORMAL, busy_timeout=5000 and enforce foreign keys', async () => {
    const path = tempPath('gaia.db');
    const db = await openDb(openOpts(`sqlite:${path}`));
    try {
      const pragma = async (name: string) => Object.values((await db.all(sql.raw(`PRAGMA ${name}`)))[0]!)[0];
      expect(await pragma('journal_mode')).toBe('wal');
      expect(await pragma('foreign_keys')).toBe(1);
      expect(await pragma('synchronous')).toBe(1);
      expect(await pragma('busy_timeout')).toBe(5000);
      const orphan = async () =>
        await db.orm
          .insert(db.t.conversations)
          .values({ id: crypto.randomUUID(), userId: crypto.randomUUID() });
      await expect(orphan()).rejects.toThrow(/FOREIGN KEY/);
    } finally {
      await db.close();
    }
  });

  test('keep data across reopening the file, and create its directory', async () => {
    const path = tempPath('nested', 'deeper', 'gaia.db');
    const id = crypto.randomUUID();
    const db = await openDb(openOpts(`sqlite:${path}`));
    await db.orm.insert(db.t.users).values({ id, email: 'persist@example.com' });
    await db.close();
    expect(existsSync(path)).toBe(true);
    const again = await openDb(openOpts(`sqlite:${path}`));
    try {
      const rows = await again.orm.select().from(again.t.users);
      expect(rows.map((r) => [r.id, r.email])).toEqual([[id, 'persist@example.com']]);
    } finally {
      await again.close();
    }
  });

  test('support sqlite::memory:', async () => {
    const db = await openDb(openOpts('sqlite::memory:', { sqlitePath: ':memory:', seedDev: true }));
    try {
      expect(await count(db, 'roles')).toBe(11);
      expect(await count(db, 'users')).toBe(1);
    } finally {
      await db.close();
    }
  });
});
