/**
 * One schema, two dialects (spec/data.md §1–§3): the migrated SQLite and PostgreSQL databases have the same
 * tables, columns, nullability, keys, indexes and foreign keys, each exactly as db/schema declares them, and
 * the shipped migrations are in sync with the schema.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  generateDrizzleJson,
  generateMigration,
  generateSQLiteDrizzleJson,
  generateSQLiteMigration,
} from 'drizzle-kit/api';
import { is, SQL } from 'drizzle-orm';
import * as pgCore from 'drizzle-orm/pg-core';
import * as liteCore from 'drizzle-orm/sqlite-core';
import postgres from 'postgres';
import { type Db, openDb } from '../../db/index.ts';
import { loadMigrations } from '../../db/migrate.ts';
import { migrationSources } from '../../db/migrations/index.ts';
import type { Schema } from '../../db/schema/define.ts';
import * as pgModule from '../../db/schema/pg.ts';
import { pgSchema } from '../../db/schema/pg.ts';
import * as sqliteModule from '../../db/schema/sqlite.ts';
import { sqliteSchema } from '../../db/schema/sqlite.ts';
import { dbOptions, dropTestDatabases, testBackends } from '../support/backends.ts';

interface TableShape {
  columns: Record<string, { notNull: boolean; type: string }>;
  primaryKey: string[];
  indexes: Record<string, { unique: boolean; columns: string[]; partial: boolean }>;
  foreignKeys: string[];
  checks: string[];
}
type Shape = Record<string, TableShape>;

const EXPR = '<expr>';
const SPEC_TABLES = [
  'users',
  'auth_sessions',
  'refresh_tokens',
  'api_keys',
  'conversations',
  'chat_messages',
  'llm_usage',
  'personas',
  'user_persona_preferences',
  'asset_sources',
  'assets',
  'asset_jobs',
  'asset_usage',
  'roles',
  'permissions',
  'role_permissions',
  'user_roles',
  'teams',
  'team_members',
  'workspaces',
  'workspace_members',
  'resource_permissions',
  'audit_log',
  'schema_migrations',
].sort();

const normType = (t: string) => t.toLowerCase().replace(/\s+\(/g, '(').trim();
const fk = (from: string[], table: string, to: string[], onDelete: string) =>
  `${from.join(',')}->${table}.${to.join(',')} on delete ${onDelete.toLowerCase()}`;

/** What the schema declares, per dialect, read through drizzle's table configs. */
function declaredShape(schema: Schema, dialect: 'pg' | 'sqlite'): Shape {
  const out: Shape = {};
  for (const table of Object.values(schema)) {
    const cfg =
      dialect === 'pg'
        ? pgCore.getTableConfig(table)
        : (liteCore.getTableConfig(table as unknown as liteCore.SQLiteTable) as unknown as ReturnType<
            typeof pgCore.getTableConfig
          >);
    const shape: TableShape = { columns: {}, primaryKey: [], indexes: {}, foreignKeys: [], checks: [] };
    for (const c of cfg.columns) {
      shape.columns[c.name] = { notNull: c.notNull, type: normType(c.getSQLType()) };
      if (c.primary) shape.primaryKey = [c.name];
    }
    for (const pk of cfg.primaryKeys) shape.primaryKey = pk.columns.map((c) => c.name);
    for (const idx of cfg.indexes) {
      const ic = idx.config as { name: string; unique: boolean; columns: unknown[]; where?: SQL };
      shape.indexes[ic.name] = {
        unique: ic.unique,
        columns: ic.columns.map((c) => (is(c, SQL) ? EXPR : (c as { name: string }).name)),
        partial: ic.where !== undefined,
      };
    }
    for (const f of cfg.foreignKeys) {
      const ref = f.reference();
      const target =
        dialect === 'pg'
          ? pgCore.getTableConfig(ref.foreignTable).name
          : (ref.foreignTable as unknown as { [k: symbol]: string })[Symbol.for('drizzle:Name')]!;
      shape.foreignKeys.push(
        fk(
          ref.columns.map((c) => c.name),
          target,
          ref.foreignColumns.map((c) => c.name),
          f.onDelete ?? 'no action',
        ),
      );
    }
    shape.foreignKeys.sort();
    shape.checks = cfg.checks.map((c) => c.name).sort();
    out[cfg.name] = shape;
  }
  return out;
}

function introspectSqlite(db: Db): Shape {
  const client = (db as unknown as { client: import('bun:sqlite').Database }).client;
  const out: Shape = {};
  const tables = client
    .query("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    .all() as Array<{ name: string; sql: string }>;
  for (const { name, sql } of tables) {
    const shape: TableShape = { columns: {}, primaryKey: [], indexes: {}, foreignKeys: [], checks: [] };
    const cols = client.query(`PRAGMA table_info("${name}")`).all() as Array<{
      name: string;
      type: string;
      notnull: number;
      pk: number;
    }>;
    for (const c of cols) shape.columns[c.name] = { notNull: c.notnull === 1, type: normType(c.type) };
    shape.primaryKey = cols
      .filter((c) => c.pk > 0)
      .sort((a, b) => a.pk - b.pk)
      .map((c) => c.name);
    const idxs = client.query(`PRAGMA index_list("${name}")`).all() as Array<{
      name: string;
      unique: number;
      origin: string;
      partial: number;
    }>;
    for (const i of idxs.filter((x) => x.origin !== 'pk')) {
      const keyCols = (
        client.query(`PRAGMA index_xinfo("${i.name}")`).all() as Array<{
          seqno: number;
          key: number;
          name: string | null;
        }>
      )
        .filter((k) => k.key === 1)
        .sort((a, b) => a.seqno - b.seqno)
        .map((k) => k.name ?? EXPR);
      shape.indexes[i.name] = { unique: i.unique === 1, columns: keyCols, partial: i.partial === 1 };
    }
    const fks = client.query(`PRAGMA foreign_key_list("${name}")`).all() as Array<{
      id: number;
      seq: number;
      table: string;
      from: string;
      to: string;
      on_delete: string;
    }>;
    const byId = Map.groupBy(fks, (f) => f.id);
    for (const group of byId.values()) {
      group.sort((a, b) => a.seq - b.seq);
      shape.foreignKeys.push(
        fk(
          group.map((f) => f.from),
          group[0]!.table,
          group.map((f) => f.to),
          group[0]!.on_delete,
        ),
      );
    }
    shape.foreignKeys.sort();
    shape.checks = [...sql.matchAll(/CONSTRAINT "([^"]+)" CHECK/g)].map((m) => m[1]!).sort();
    out[name] = shape;
  }
  return out;
}

async function introspectPostgres(url: string): Promise<Shape> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const out: Shape = {};
    const tables = await sql<{ name: string; oid: number }[]>`
      SELECT c.relname AS name, c.oid::int AS oid FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = current_schema() AND c.relkind = 'r'`;
    for (const { name, oid } of tables) {
      const shape: TableShape = { columns: {}, primaryKey: [], indexes: {}, foreignKeys: [], checks: [] };
      const cols = await sql<{ name: string; type: string; notnull: boolean; num: number }[]>`
        SELECT attname AS name, format_type(atttypid, atttypmod) AS type, attnotnull AS notnull, attnum AS num
        FROM pg_attribute WHERE attrelid = ${oid} AND attnum > 0 AND NOT attisdropped ORDER BY attnum`;
      const colName = new Map(cols.map((c) => [c.num, c.name]));
      for (const c of cols) shape.columns[c.name] = { notNull: c.notnull, type: normType(c.type) };
      const cons = await sql<
        {
          name: string;
          type: string;
          key: number[];
          fkey: number[] | null;
          ftable: string | null;
          del: string;
        }[]
      >`
        SELECT conname AS name, contype AS type, conkey AS key, confkey AS fkey,
               confrelid::regclass::text AS ftable, confdeltype AS del
        FROM pg_constraint WHERE conrelid = ${oid}`;
      for (const c of cons) {
        if (c.type === 'p') shape.primaryKey = c.key.map((k) => colName.get(k)!);
        if (c.type === 'c') shape.checks.push(c.name);
        if (c.type === 'f') {
          const ftable = c.ftable!.replace(/^"|"$/g, '');
          const fcols = await sql<{ num: number; name: string }[]>`
            SELECT attnum AS num, attname AS name FROM pg_attribute WHERE attrelid = ${ftable}::regclass`;
          const fname = new Map(fcols.map((x) => [x.num, x.name]));
          const del = { c: 'cascade', n: 'set null', a: 'no action', r: 'restrict', d: 'set default' }[
            c.del
          ]!;
          shape.foreignKeys.push(
            fk(
              c.key.map((k) => colName.get(k)!),
              ftable,
              c.fkey!.map((k) => fname.get(k)!),
              del,
            ),
          );
        }
      }
      shape.checks.sort();
      shape.foreignKeys.sort();
      const idxs = await sql<
        { name: string; unique: boolean; partial: boolean; keys: string; n: number; ioid: number }[]
      >`
        SELECT ic.relname AS name, i.indisunique AS unique, i.indpred IS NOT NULL AS partial,
               i.indkey::text AS keys, i.indnkeyatts AS n, i.indexrelid::int AS ioid
        FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
        WHERE i.indrelid = ${oid} AND NOT i.indisprimary`;
      for (const i of idxs) {
        const keys = i.keys.split(' ').map(Number).slice(0, i.n);
        shape.indexes[i.name] = {
          unique: i.unique,
          columns: keys.map((k) => (k === 0 ? EXPR : colName.get(k)!)),
          partial: i.partial,
        };
      }
      out[name] = shape;
    }
    return out;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** The part both dialects must share: everything but storage types and SQLite-only checks. */
function portable(shape: Shape): unknown {
  return Object.fromEntries(
    Object.entries(shape)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, t]) => [
        name,
        {
          columns: Object.fromEntries(Object.entries(t.columns).map(([c, v]) => [c, { notNull: v.notNull }])),
          primaryKey: t.primaryKey,
          indexes: t.indexes,
          foreignKeys: t.foreignKeys,
        },
      ]),
  );
}

/** The storage class each PostgreSQL type maps to in SQLite (spec/data.md §1). */
const SQLITE_TYPE_OF: Record<string, string> = {
  uuid: 'text',
  text: 'text',
  integer: 'integer',
  bigint: 'integer',
  'double precision': 'real',
  boolean: 'integer',
  'timestamp(3) with time zone': 'integer',
  jsonb: 'text',
};

const dbOptionsSmall = (url: string) => dbOptions(url, { poolMax: 2 });

afterAll(dropTestDatabases);

const declaredPg = declaredShape(pgSchema, 'pg');
const declaredSqlite = declaredShape(sqliteSchema, 'sqlite');

describe('the declared schema', () => {
  test('has exactly the tables of spec/data.md §2', () => {
    expect(Object.keys(declaredPg).sort()).toEqual(SPEC_TABLES);
    expect(Object.keys(declaredSqlite).sort()).toEqual(SPEC_TABLES);
  });

  test('both dialect builders declare the same columns, keys, indexes and foreign keys', () => {
    expect(portable(declaredSqlite)).toEqual(portable(declaredPg));
  });

  test('storage types follow the portable type table', () => {
    for (const [table, shape] of Object.entries(declaredPg)) {
      for (const [column, { type }] of Object.entries(shape.columns)) {
        const expected = SQLITE_TYPE_OF[type];
        expect(expected, `${table}.${column}: ${type}`).toBeDefined();
        expect(`${table}.${column}:${declaredSqlite[table]!.columns[column]!.type}`).toBe(
          `${table}.${column}:${expected}`,
        );
      }
    }
  });

  test('enum columns are checked in both dialects; SQLite also checks booleans and JSON', () => {
    for (const [table, shape] of Object.entries(declaredPg)) {
      const liteOnly = Object.entries(shape.columns)
        .filter(([, v]) => v.type === 'boolean' || v.type === 'jsonb')
        .map(([c]) => `${table}_${c}_check`);
      expect(declaredSqlite[table]!.checks).toEqual([...shape.checks, ...liteOnly].sort());
    }
    expect(declaredPg.chat_messages!.checks).toEqual([
      'chat_messages_role_check',
      'chat_messages_status_check',
    ]);
    expect(declaredPg.assets!.checks).toContain('assets_quality_score_check');
  });

  test('SQL names are the snake_case of the property names', () => {
    for (const table of Object.values(pgSchema)) {
      for (const [key, col] of Object.entries(table as unknown as Record<string, unknown>)) {
        if (!is(col, pgCore.PgColumn)) continue;
        expect(col.name).toBe(key.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`));
      }
    }
  });
});

describe('migrations', () => {
  test('db/migrations/index.ts embeds every file, and both dialects share numbers and names', () => {
    for (const [kind, dir] of [
      ['postgresql', 'postgres'],
      ['sqlite', 'sqlite'],
    ] as const) {
      const onDisk = readdirSync(join(import.meta.dir, '../../db/migrations', dir))
        .filter((f) => f.endsWith('.sql'))
        .sort();
      expect(migrationSources[kind].map((m) => m.file)).toEqual(onDisk);
    }
    const pg = loadMigrations('postgresql').map((m) => `${m.version}:${m.name}`);
    const lite = loadMigrations('sqlite').map((m) => `${m.version}:${m.name}`);
    expect(lite).toEqual(pg);
    expect(pg[0]).toBe('0:init');
  });

  test('are in sync with the schema (no change is waiting for `bun run db:generate`)', async () => {
    const latest = (dir: string) => {
      const journal = require(join(import.meta.dir, '../../db/migrations', dir, 'meta/_journal.json')) as {
        entries: Array<{ idx: number; tag: string }>;
      };
      const last = journal.entries.at(-1)!;
      return require(
        join(
          import.meta.dir,
          '../../db/migrations',
          dir,
          `meta/${String(last.idx).padStart(4, '0')}_snapshot.json`,
        ),
      );
    };
    const prevPg = latest('postgres');
    expect(await generateMigration(prevPg, generateDrizzleJson(pgModule, prevPg.id))).toEqual([]);
    const prevLite = latest('sqlite');
    expect(
      await generateSQLiteMigration(prevLite, await generateSQLiteDrizzleJson(sqliteModule, prevLite.id)),
    ).toEqual([]);
  });

  test('declare schema_migrations with IF NOT EXISTS, since the migrator creates it first', () => {
    for (const kind of ['postgresql', 'sqlite'] as const) {
      const init = loadMigrations(kind)[0]!.sql;
      expect(init).toMatch(/CREATE TABLE IF NOT EXISTS ["`]schema_migrations["`]/);
      expect(init.match(/CREATE TABLE (?!IF NOT EXISTS)/g)?.length).toBe(SPEC_TABLES.length - 1);
    }
  });
});

describe('migrated databases', () => {
  const shapes: Partial<Record<'sqlite' | 'postgresql', Shape>> = {};

  for (const backend of testBackends()) {
    test(`${backend.name} is exactly the declared schema`, async () => {
      const url = await backend.databaseUrl();
      const db = await openDb(dbOptionsSmall(url));
      try {
        const shape = backend.name === 'sqlite' ? introspectSqlite(db) : await introspectPostgres(url);
        shapes[backend.name] = shape;
        const declared = backend.name === 'sqlite' ? declaredSqlite : declaredPg;
        expect(Object.keys(shape).sort()).toEqual(SPEC_TABLES);
        for (const table of SPEC_TABLES)
          expect({ table, ...shape[table] }).toEqual({ table, ...declared[table]! });
      } finally {
        await db.close();
      }
    });
  }

  test('SQLite and PostgreSQL have the same tables, columns, nullability, keys and indexes', () => {
    if (!shapes.postgresql) {
      // Without GAIA_TEST_DATABASE_URL only the declared shapes can be compared (above).
      expect(shapes.sqlite).toBeDefined();
      return;
    }
    expect(portable(shapes.sqlite!)).toEqual(portable(shapes.postgresql));
  });
});
