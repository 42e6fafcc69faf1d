/**
 * The real databases and buses tests run against (DESIGN.md §3.7, §5).
 *
 * SQLite always; PostgreSQL when GAIA_TEST_DATABASE_URL is set; NATS when GAIA_TEST_NATS_URL is set.
 * Each `databaseUrl()` call gives a fresh, empty database (a new temp file, or a new uniquely named
 * PostgreSQL database created through the configured URL's server), so test files can run in parallel and
 * never see each other's data. Call `dropTestDatabases()` in `afterAll` to remove what a file created.
 *
 * A configured server that cannot be reached is a failure on CI (`CI=true`): silently testing less there
 * would hide a broken pipeline. Locally it is skipped with a warning.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import type { OpenDbOptions } from '../../db/index.ts';

export interface TestBackend {
  name: 'sqlite' | 'postgresql';
  /** A URL for DATABASE_URL naming a fresh, empty database. */
  databaseUrl(): Promise<string>;
}

const isCi = process.env.CI === 'true';
const pgAdminUrl = process.env.GAIA_TEST_DATABASE_URL?.trim() || undefined;
const natsUrl = process.env.GAIA_TEST_NATS_URL?.trim() || undefined;

/** Hides the password of a URL for messages. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable url>';
  }
}

async function probePostgres(url: string): Promise<string | undefined> {
  const sql = postgres(url, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`SELECT 1`;
    return undefined;
  } catch (err) {
    return `PostgreSQL at ${redact(url)} is unreachable: ${(err as Error).message}`;
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

function probeTcp(url: string): Promise<string | undefined> {
  // NATS_URL may list several servers; the first must answer.
  const first = url.split(',')[0]!.trim();
  let host = '127.0.0.1';
  let port = 4222;
  try {
    const u = new URL(first.includes('://') ? first : `nats://${first}`);
    host = u.hostname || host;
    port = Number(u.port) || port;
  } catch {
    return Promise.resolve(`GAIA_TEST_NATS_URL ${first} is not a URL`);
  }
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (problem?: string) => {
      socket.destroy();
      resolve(problem);
    };
    socket.setTimeout(3000, () => done(`NATS at ${host}:${port} did not answer within 3 s`));
    socket.once('connect', () => done());
    socket.once('error', (err) => done(`NATS at ${host}:${port} is unreachable: ${err.message}`));
  });
}

// Probed once per test file at import, so `testBackends()` can stay synchronous for `describe` loops.
const [pgProblem, natsProblem] = await Promise.all([
  pgAdminUrl ? probePostgres(pgAdminUrl) : undefined,
  natsUrl ? probeTcp(natsUrl) : undefined,
]);

const warned = new Set<string>();
function unavailable(problem: string): void {
  if (isCi) throw new Error(`${problem} (CI=true, so this fails instead of skipping)`);
  if (!warned.has(problem)) {
    warned.add(problem);
    console.warn(`[test backends] ${problem}; skipping it.`);
  }
}

const tempDirs: string[] = [];
const pgDatabases: string[] = [];
let counter = 0;

const sqliteBackend: TestBackend = {
  name: 'sqlite',
  databaseUrl: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gaia-test-db-'));
    tempDirs.push(dir);
    return `sqlite:${join(dir, 'gaia.db')}`;
  },
};

/** Test databases are named `gaia_test_<epoch seconds>_<pid>_<n>_<random>`, so stale ones can be found. */
const STALE_AFTER_S = 6 * 3600;
let staleSwept = false;

async function createPgDatabase(adminUrl: string): Promise<string> {
  const name = `gaia_test_${Math.floor(Date.now() / 1000)}_${process.pid}_${++counter}_${crypto
    .randomUUID()
    .slice(0, 8)}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    if (!staleSwept) {
      // Databases left by crashed runs would pile up on a long-lived developer server.
      staleSwept = true;
      const rows = await admin<{ datname: string }[]>`
        SELECT datname FROM pg_database WHERE datname LIKE 'gaia\\_test\\_%'`;
      const cutoff = Date.now() / 1000 - STALE_AFTER_S;
      for (const { datname } of rows) {
        const created = Number(/^gaia_test_(\d+)_/.exec(datname)?.[1]);
        if (created && created < cutoff)
          await admin.unsafe(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
      }
    }
    await admin.unsafe(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end({ timeout: 5 });
  }
  pgDatabases.push(name);
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/** The databases to run a test against: always SQLite, plus PostgreSQL when configured and reachable. */
export function testBackends(): TestBackend[] {
  const out: TestBackend[] = [sqliteBackend];
  if (pgAdminUrl) {
    if (pgProblem) unavailable(pgProblem);
    else out.push({ name: 'postgresql', databaseUrl: () => createPgDatabase(pgAdminUrl) });
  }
  return out;
}

/** GAIA_TEST_NATS_URL when it is set and answers, else undefined (an error on CI when it does not answer). */
export function natsTestUrl(): string | undefined {
  if (!natsUrl) return undefined;
  if (natsProblem) {
    unavailable(natsProblem);
    return undefined;
  }
  return natsUrl;
}

/**
 * Removes every database this test file created. Connections still open to them are terminated, so call
 * it after closing stacks (in `afterAll`).
 */
export async function dropTestDatabases(): Promise<void> {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  const names = pgDatabases.splice(0);
  if (names.length === 0 || !pgAdminUrl) return;
  const admin = postgres(pgAdminUrl, { max: 1, onnotice: () => {} });
  try {
    for (const name of names) await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await admin.end({ timeout: 5 });
  }
}

/** Options to open a test database URL from `databaseUrl()` with migrations applied (no dev seed). */
export function dbOptions(url: string, over: Partial<OpenDbOptions> = {}): OpenDbOptions {
  const kind = url.startsWith('sqlite:') ? ('sqlite' as const) : ('postgresql' as const);
  return {
    url,
    kind,
    sqlitePath: kind === 'sqlite' ? url.slice('sqlite:'.length) : '',
    poolMax: 4,
    autoMigrate: true,
    seedDev: false,
    isProduction: false,
    ...over,
  };
}
