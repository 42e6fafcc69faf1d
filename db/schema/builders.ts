/**
 * The two dialect builders behind `defineSchema(b)`.
 *
 * `defineSchema` is written once against `Builder`, whose type is the PostgreSQL builder's type. The SQLite
 * builder produces the same logical columns with SQLite storage classes and is cast to that type, so one
 * declaration yields both dialects and `Schema` (the PostgreSQL tables' type) is what services code against.
 *
 * Constraints that SQLite cannot express natively are added automatically by `table()`: enum columns get
 * `CHECK (x IN (…))` in both dialects; in SQLite booleans get `CHECK (x IN (0,1))` and JSON columns get
 * `CHECK (json_valid(x))`.
 */
import { type BuildColumns, type BuildExtraConfigColumns, type SQL, sql } from 'drizzle-orm';
import * as pg from 'drizzle-orm/pg-core';
import * as lite from 'drizzle-orm/sqlite-core';

/** Makes the SQL for an automatic CHECK on one column, given its SQL name. */
type AutoCheck = (column: string) => SQL;

function quoteLiteral(v: string): string {
  return `'${v.replaceAll("'", "''")}'`;
}

function inList(column: string, values: readonly (string | number)[]): SQL {
  const list = values.map((v) => (typeof v === 'number' ? String(v) : quoteLiteral(v))).join(', ');
  return sql`${sql.identifier(column)} IN (${sql.raw(list)})`;
}

const enumCheck =
  (values: readonly string[]): AutoCheck =>
  (column) =>
    inList(column, values);
const boolCheck: AutoCheck = (column) => inList(column, [0, 1]);
const jsonCheck: AutoCheck = (column) => sql`json_valid(${sql.identifier(column)})`;

interface NamedBuilder {
  config: { name: string };
}

/**
 * Collects the automatic checks of a column map. Drizzle's column builders return `this` from every
 * modifier, so the object marked at creation is the one that ends up in the table definition.
 */
function autoChecks(
  marks: WeakMap<object, AutoCheck>,
  tableName: string,
  columns: Record<string, unknown>,
): Array<{ name: string; value: SQL }> {
  const out: Array<{ name: string; value: SQL }> = [];
  for (const builder of Object.values(columns)) {
    const make = marks.get(builder as object);
    if (!make) continue;
    const column = (builder as NamedBuilder).config.name;
    out.push({ name: `${tableName}_${column}_check`, value: make(column) });
  }
  return out;
}

function mark<T extends object>(marks: WeakMap<object, AutoCheck>, builder: T, check: AutoCheck): T {
  marks.set(builder, check);
  return builder;
}

const pgMarks = new WeakMap<object, AutoCheck>();

/** `pgTable` with the automatic checks appended; typed like `pgTable`'s array-returning overload. */
type PgTableWithChecks = <TName extends string, TColumns extends Record<string, pg.PgColumnBuilderBase>>(
  name: TName,
  columns: TColumns,
  extra?: (self: BuildExtraConfigColumns<TName, TColumns, 'pg'>) => pg.PgTableExtraConfigValue[],
) => pg.PgTableWithColumns<{
  name: TName;
  schema: undefined;
  columns: BuildColumns<TName, TColumns, 'pg'>;
  dialect: 'pg';
}>;

const pgTableWithChecks: PgTableWithChecks = (name, columns, extra) =>
  pg.pgTable(name, columns, (t) => [
    ...(extra ? extra(t) : []),
    ...autoChecks(pgMarks, name, columns).map((c) => pg.check(c.name, c.value)),
  ]);

/** The PostgreSQL builder; its type is `Builder`. */
export const pgBuilder = {
  table: pgTableWithChecks,
  uuid: <N extends string>(name: N) => pg.uuid(name),
  text: <N extends string>(name: N) => pg.text(name),
  enumText: <N extends string, U extends string, T extends Readonly<[U, ...U[]]>>(name: N, values: T) =>
    mark(pgMarks, pg.text(name, { enum: values }), enumCheck(values)),
  int: <N extends string>(name: N) => pg.integer(name),
  /** Sizes, money and counters; JavaScript numbers are exact up to 2^53. */
  bigint: <N extends string>(name: N) => pg.bigint(name, { mode: 'number' }),
  real: <N extends string>(name: N) => pg.doublePrecision(name),
  bool: <N extends string>(name: N) => pg.boolean(name),
  ts: <N extends string>(name: N) => pg.timestamp(name, { withTimezone: true, precision: 3, mode: 'date' }),
  json: <T, N extends string = string>(name: N) => pg.jsonb(name).$type<T>(),
  /** An integer primary key numbered by the database (only `asset_sources`). */
  serial: <N extends string>(name: N) => pg.integer(name).primaryKey().generatedByDefaultAsIdentity(),
  index: pg.index,
  uniqueIndex: pg.uniqueIndex,
  primaryKey: pg.primaryKey,
  check: pg.check,
  sql,
};

export type Builder = typeof pgBuilder;

const liteMarks = new WeakMap<object, AutoCheck>();

const liteTableWithChecks = (
  name: string,
  columns: Record<string, lite.SQLiteColumnBuilderBase>,
  extra?: (t: any) => lite.SQLiteTableExtraConfigValue[],
) =>
  lite.sqliteTable(name, columns, (t) => [
    ...(extra ? extra(t) : []),
    ...autoChecks(liteMarks, name, columns).map((c) => lite.check(c.name, c.value)),
  ]);

/**
 * The SQLite builder, typed as the PostgreSQL one. Only the storage differs: uuid and text are TEXT,
 * timestamps are INTEGER epoch milliseconds (`Date` in TypeScript), JSON is validated TEXT, booleans are 0/1.
 */
export const sqliteBuilder = {
  table: liteTableWithChecks,
  uuid: (name: string) => lite.text(name),
  text: (name: string) => lite.text(name),
  enumText: (name: string, values: [string, ...string[]]) =>
    mark(liteMarks, lite.text(name, { enum: values }), enumCheck(values)),
  int: (name: string) => lite.integer(name, { mode: 'number' }),
  bigint: (name: string) => lite.integer(name, { mode: 'number' }),
  real: (name: string) => lite.real(name),
  bool: (name: string) => mark(liteMarks, lite.integer(name, { mode: 'boolean' }), boolCheck),
  ts: (name: string) => lite.integer(name, { mode: 'timestamp_ms' }),
  json: (name: string) => mark(liteMarks, lite.text(name, { mode: 'json' }), jsonCheck),
  serial: (name: string) => lite.integer(name, { mode: 'number' }).primaryKey({ autoIncrement: true }),
  index: lite.index,
  uniqueIndex: lite.uniqueIndex,
  primaryKey: lite.primaryKey,
  check: lite.check,
  sql,
} as unknown as Builder;
