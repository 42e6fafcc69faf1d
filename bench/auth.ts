/**
 * Auth benchmark (issue 3). In one process and one run, the same public route (`POST /api/v1/auth/validate`
 * with `{}`, whose handler does no database work) is called through the gateway three ways:
 *   - without a credential (the baseline),
 *   - with a cached API key (`X-API-Key`),
 *   - with a verified, cached JWT (`Authorization: Bearer`),
 * so the difference is the gateway's authentication alone. Prints per-request time and its ratio to the
 * baseline, and counts the SQL statements each request issues (target with a cached key: 0).
 *
 * Requests go through `app.handle` (no sockets), so network noise does not hide the cost being measured.
 * `bun bench/auth.ts` or `bun run bench auth`.
 */
import { Database } from 'bun:sqlite';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { startAllInOne } from '../wiring/stack.ts';

const DEV_KEY = 'FJUeDkZRy0uPp7cYtavMsIfwi7weF9-RT7BeOlusqnE';
const REQUESTS = Number(process.env.BENCH_AUTH_REQUESTS ?? 3000);
const ROUNDS = Number(process.env.BENCH_AUTH_ROUNDS ?? 5);

/** Counts statements SQLite prepares or runs, from any connection in this process. */
function countSqlite(): () => number {
  let n = 0;
  const proto = Database.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const m of ['prepare', 'query', 'run', 'exec']) {
    const orig = proto[m]!;
    proto[m] = function (this: unknown, ...args: unknown[]) {
      n++;
      return orig.apply(this, args);
    };
  }
  return () => n;
}

interface Variant {
  name: string;
  headers: Record<string, string>;
}

export interface AuthBenchResult {
  perRequestUs: Record<string, number>;
  ratio: Record<string, number>;
  queriesPerRequest: Record<string, number>;
  gatewayLookupsPerRequest: Record<string, number>;
}

export async function benchAuth(): Promise<AuthBenchResult> {
  const statements = countSqlite();
  const dataDir = mkdtempSync(join(tmpdir(), 'gaia-bench-auth-'));
  const config = loadConfig({
    GAIA_ENV: 'development',
    GAIA_DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    LOG_LEVEL: 'error',
    GAIA_RATE_LIMIT: '100000000/minute',
    GAIA_AUTH_RATE_LIMIT: '100000000/minute',
    GAIA_AUTH_FAILURE_LIMIT: '100000000/minute',
  });
  const log = createLogger({ service: 'bench', level: 'error', json: true, sink: () => {} });
  const stack = await startAllInOne({ config, log, gatewayPort: 0, webPort: 0 });
  try {
    const app = stack.gateway.app;
    const call = async (path: string, init: RequestInit) => {
      const res = await app.handle(new Request(`http://127.0.0.1${path}`, init));
      await res.arrayBuffer();
      return res.status;
    };
    const login = await app.handle(
      new Request('http://127.0.0.1/api/v1/auth/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'dev@gaia.local', password: 'testtest' }),
      }),
    );
    const jwt = ((await login.json()) as { session: { access_token: string } }).session.access_token;
    const variants: Variant[] = [
      { name: 'unauthenticated', headers: {} },
      { name: 'api_key (cached)', headers: { 'x-api-key': DEV_KEY } },
      { name: 'jwt (cached)', headers: { authorization: `Bearer ${jwt}` } },
    ];
    const once = (v: Variant) =>
      call('/api/v1/auth/validate', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...v.headers },
        body: '{}',
      });
    // Warm-up: fills the key, JWT, roles and known-user caches and JIT-compiles the path.
    for (const v of variants) {
      for (let i = 0; i < 500; i++) {
        const s = await once(v);
        if (s !== 200) throw new Error(`${v.name}: status ${s}`);
      }
    }
    const samples: Record<string, number[]> = Object.fromEntries(variants.map((v) => [v.name, []]));
    const queries: Record<string, number> = {};
    const lookups: Record<string, number> = {};
    for (let r = 0; r < ROUNDS; r++) {
      for (const v of variants) {
        const q0 = statements();
        const l0 = stack.gateway.auth.dbLookups;
        const t0 = performance.now();
        for (let i = 0; i < REQUESTS; i++) await once(v);
        samples[v.name]!.push(((performance.now() - t0) * 1000) / REQUESTS);
        queries[v.name] = (queries[v.name] ?? 0) + (statements() - q0);
        lookups[v.name] = (lookups[v.name] ?? 0) + (stack.gateway.auth.dbLookups - l0);
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const perRequestUs = Object.fromEntries(variants.map((v) => [v.name, median(samples[v.name]!)]));
    const base = perRequestUs.unauthenticated!;
    const total = REQUESTS * ROUNDS;
    return {
      perRequestUs,
      ratio: Object.fromEntries(variants.map((v) => [v.name, perRequestUs[v.name]! / base])),
      queriesPerRequest: Object.fromEntries(variants.map((v) => [v.name, queries[v.name]! / total])),
      gatewayLookupsPerRequest: Object.fromEntries(variants.map((v) => [v.name, lookups[v.name]! / total])),
    };
  } finally {
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export function printAuth(r: AuthBenchResult): void {
  console.log(
    `POST /api/v1/auth/validate {} through the gateway, in-process, ${REQUESTS} requests x ${ROUNDS} rounds (median)`,
  );
  for (const name of Object.keys(r.perRequestUs)) {
    console.log(
      `  ${name.padEnd(18)} ${r.perRequestUs[name]!.toFixed(1).padStart(8)} µs/request  x${r.ratio[name]!.toFixed(3)}  ` +
        `SQL statements/request ${r.queriesPerRequest[name]!.toFixed(4)}  gateway lookups/request ${r.gatewayLookupsPerRequest[name]!.toFixed(4)}`,
    );
  }
  const keyCost = r.perRequestUs['api_key (cached)']! - r.perRequestUs.unauthenticated!;
  const jwtCost = r.perRequestUs['jwt (cached)']! - r.perRequestUs.unauthenticated!;
  console.log(
    `  authentication adds ${keyCost.toFixed(1)} µs (cached key) and ${jwtCost.toFixed(1)} µs (JWT) per request`,
  );
}

export async function main(): Promise<void> {
  printAuth(await benchAuth());
}

if (import.meta.main) await main();
