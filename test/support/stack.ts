/**
 * Starts a whole all-in-one Gaia on free ports for a test: SQLite in a temp directory by default, or the
 * database URL the caller passes (PostgreSQL in CI). Logs are captured, so tests can prove that no secret
 * is ever written.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { type Config, loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { type RunningStack, startAllInOne } from '../../wiring/stack.ts';

export const DEV_API_KEY = 'FJUeDkZRy0uPp7cYtavMsIfwi7weF9-RT7BeOlusqnE';
export const DEV_USER_ID = '00000000-0000-4000-8000-000000000001';
/** Test-only HS256 secret, as Supabase projects share with their backends. */
export const TEST_SUPABASE_JWT_SECRET = 'test-supabase-jwt-secret-0123456789abcdef';

export interface StackHandle {
  url: string;
  /** The web UI of this stack. */
  webUrl: string;
  devKey: string;
  config: Config;
  stack: RunningStack;
  dataDir: string;
  /** Every log line written so far. */
  logs: string[];
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Calls with the dev API key. */
  dev(path: string, init?: RequestInit): Promise<Response>;
  /** A JWT signed with SUPABASE_JWT_SECRET (what the Python test-suite and Supabase issue). */
  mintJwt(
    claims?: Record<string, unknown>,
    opts?: { secret?: string; expiresIn?: number | string },
  ): Promise<string>;
  stop(): Promise<void>;
  /** Stops and starts again on the same data (and the same database), e.g. to prove persistence. */
  restart(): Promise<void>;
}

export interface StartStackOptions {
  env?: Record<string, string>;
  databaseUrl?: string;
  natsUrl?: string;
}

export async function startStack(opts: StartStackOptions = {}): Promise<StackHandle> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gaia-test-'));
  const logs: string[] = [];
  const env: Record<string, string> = {
    GAIA_ENV: 'test',
    GAIA_DATA_DIR: dataDir,
    LOG_LEVEL: 'debug',
    SUPABASE_JWT_SECRET: TEST_SUPABASE_JWT_SECRET,
    HOST: '127.0.0.1',
    ...(opts.databaseUrl ? { DATABASE_URL: opts.databaseUrl } : {}),
    ...(opts.natsUrl ? { NATS_URL: opts.natsUrl } : {}),
    ...opts.env,
  };
  const config = loadConfig(env);
  const log = createLogger({ service: 'gaia', level: 'debug', json: true, sink: (line) => logs.push(line) });
  let stack = await startAllInOne({ config, log, gatewayPort: 0, webPort: 0 });
  const handle: StackHandle = {
    get url() {
      return stack.gatewayUrl;
    },
    get webUrl() {
      return stack.webUrl;
    },
    devKey: DEV_API_KEY,
    config,
    get stack() {
      return stack;
    },
    dataDir,
    logs,
    fetch(path, init) {
      return fetch(stack.gatewayUrl + path, init);
    },
    dev(path, init = {}) {
      const headers = new Headers(init.headers);
      if (!headers.has('x-api-key')) headers.set('x-api-key', DEV_API_KEY);
      return fetch(stack.gatewayUrl + path, { ...init, headers });
    },
    async mintJwt(claims = {}, o = {}) {
      const now = Math.floor(Date.now() / 1000);
      const jwt = new SignJWT({
        aud: 'authenticated',
        role: 'authenticated',
        sub: crypto.randomUUID(),
        ...claims,
      })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuedAt(now);
      if (o.expiresIn !== undefined) jwt.setExpirationTime(o.expiresIn);
      else if (!('exp' in claims)) jwt.setExpirationTime(now + 3600);
      return jwt.sign(new TextEncoder().encode(o.secret ?? TEST_SUPABASE_JWT_SECRET));
    },
    async stop() {
      await stack.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
    async restart() {
      await stack.stop();
      stack = await startAllInOne({ config, log, gatewayPort: 0, webPort: 0 });
    },
  };
  return handle;
}
