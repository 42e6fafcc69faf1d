/**
 * A bad value stops the start with a ConfigError naming the variable, and the message never carries the
 * value itself (it may be a secret). Also the older names read as fallbacks (ENVIRONMENT, RATE_LIMIT_*).
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAssetConfig } from '../../services/asset/config.ts';
import { readKbConfig } from '../../services/kb/config.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'gaia-config-errors-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const SECRET_32 = 'prod-secret-0123456789abcdef-XYZ!';
const PROD = { GAIA_ENV: 'production', GAIA_JWT_SECRET: SECRET_32, WEB_SESSION_SECRET: `${SECRET_32}w` };

/** The kernel's sections, then the sections services read for themselves at start (kb's, asset's). */
function load(env: Record<string, string>, opts?: { split?: boolean }) {
  const config = loadConfig({ GAIA_DATA_DIR: dataDir, ...env }, opts);
  readKbConfig(config);
  readAssetConfig(config);
  return config;
}

/** Loads, expects a ConfigError for `variable`, and checks that no given value leaks into its message. */
function expectConfigError(
  env: Record<string, string>,
  variable: string,
  opts?: { split?: boolean },
): ConfigError {
  let caught: unknown;
  try {
    load(env, opts);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  const err = caught as ConfigError;
  expect(err.variable).toBe(variable);
  expect(err.message).toContain(variable);
  for (const [name, value] of Object.entries(env)) {
    // A plain word such as "production" or "supabase" may be part of a reason; anything else must not appear.
    if (value.trim().length >= 6 && !/^[a-z]+$/i.test(value))
      expect(err.message, name).not.toContain(value.trim());
  }
  return err;
}

describe('bad values name the variable', () => {
  const cases: Array<[string, Record<string, string>]> = [
    ['GATEWAY_PORT', { GATEWAY_PORT: 'eighty-six' }],
    ['GATEWAY_PORT', { GATEWAY_PORT: '8666.5' }],
    ['WEB_PORT', { WEB_PORT: '70000' }],
    ['KB_PORT', { KB_PORT: '-1' }],
    ['GAIA_RATE_LIMIT', { GAIA_RATE_LIMIT: 'lots' }],
    ['GAIA_RATE_LIMIT', { GAIA_RATE_LIMIT: '0/minute' }],
    ['GAIA_AUTH_RATE_LIMIT', { GAIA_AUTH_RATE_LIMIT: '10 per fortnight' }],
    ['GAIA_AUTH_FAILURE_LIMIT', { GAIA_AUTH_FAILURE_LIMIT: 'many' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://gaia:hunter2-db-password@db:3306/gaia' }],
    ['DATABASE_URL', { DATABASE_URL: 'sqlite:' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }],
    ['GAIA_ENV', { GAIA_ENV: 'staging' }],
    ['DEBUG', { DEBUG: 'maybe' }],
    ['GAIA_SEED_DEV', { GAIA_SEED_DEV: 'perhaps' }],
    ['KB_PUSH_ENABLED', { KB_PUSH_ENABLED: 'sometimes' }],
    ['ASSET_S3_FORCE_PATH_STYLE', { ASSET_S3_FORCE_PATH_STYLE: 'y' }],
    ['DATABASE_POOL_MAX', { DATABASE_POOL_MAX: '0' }],
    ['GAIA_JWT_LEEWAY_S', { GAIA_JWT_LEEWAY_S: '61' }],
    ['GAIA_TRUSTED_PROXIES', { GAIA_TRUSTED_PROXIES: 'one' }],
    ['GATEWAY_REQUEST_TIMEOUT', { GATEWAY_REQUEST_TIMEOUT: 'soon' }],
    ['ASSET_DAILY_BUDGET_USD', { ASSET_DAILY_BUDGET_USD: '-1' }],
    ['ASSET_STORAGE', { ASSET_STORAGE: 'gcs' }],
    ['ASSET_DEDUP_SCOPE', { ASSET_DEDUP_SCOPE: 'team' }],
    ['STABILITY_API_VERSION', { STABILITY_API_VERSION: 'v3' }],
    ['ELEVENLABS_API_BASE', { ELEVENLABS_API_BASE: 'api.elevenlabs.io/with-token-abc123' }],
    ['MESHY_TEST_MODE', { MESHY_TEST_MODE: 'kinda' }],
    ['ASSET_PROVIDER_ORDER_IMAGE', { ASSET_PROVIDER_ORDER_IMAGE: 'stability,dalle-secret-name' }],
    ['ASSET_PROVIDER_ORDER_VEHICLE', { ASSET_PROVIDER_ORDER_VEHICLE: 'openai' }],
    ['GAIA_RATE_LIMIT_STORE', { GAIA_RATE_LIMIT_STORE: 'memcached' }],
    ['GAIA_RATE_LIMIT_STORE', { GAIA_RATE_LIMIT_STORE: 'nats' }],
    ['GAIA_RATE_LIMIT_STORE', { GAIA_RATE_LIMIT_STORE: 'redis' }],
    ['GAIA_AUTH_PROVIDER', { GAIA_AUTH_PROVIDER: 'supabase' }],
    ['GAIA_AUTH_PROVIDER', { GAIA_AUTH_PROVIDER: 'okta' }],
    ['GAIA_PUBLIC_URL', { GAIA_PUBLIC_URL: 'gaia.example.com/with-token-abc123' }],
    ['OPENAI_BASE_URL', { OPENAI_BASE_URL: 'not a url sk-live-secret-token' }],
    ['AUTH_SERVICE_URL', { AUTH_SERVICE_URL: 'not a url' }],
    ['GATEWAY_URL', { GATEWAY_URL: 'gateway' }],
    ['RATE_LIMIT_REQUESTS', { RATE_LIMIT_REQUESTS: 'plenty' }],
    ['RATE_LIMIT_PERIOD', { RATE_LIMIT_REQUESTS: '100', RATE_LIMIT_PERIOD: 'fortnight' }],
    ['GAIA_INTERNAL_SECRET', { GAIA_INTERNAL_SECRET: 'too-short-internal-secret' }],
  ];
  for (const [variable, env] of cases) {
    test(`${variable}=${Object.values(env).at(-1)}`, () => {
      const err = expectConfigError(env, variable);
      expect(err.name).toBe('ConfigError');
      expect(err.message.startsWith('Invalid configuration: ')).toBe(true);
    });
  }

  // WHATWG URL takes `auth-service:8001` as a URL with scheme `auth-service:`; a forgotten http:// must
  // fail at start, not later far from its cause.
  test('a URL without http:// or https:// is refused', () => {
    expectConfigError({ AUTH_SERVICE_URL: 'auth-service:8001' }, 'AUTH_SERVICE_URL');
    expectConfigError({ GAIA_PUBLIC_URL: 'localhost:8666' }, 'GAIA_PUBLIC_URL');
  });

  test('a database URL with a password is never echoed', () => {
    const err = expectConfigError(
      { DATABASE_URL: 'mysql://root:s3cr3t-passw0rd@127.0.0.1/gaia' },
      'DATABASE_URL',
    );
    expect(err.message).not.toContain('s3cr3t');
    expect(err.message).not.toContain('mysql://');
  });

  test('spaces around a value are ignored, and an empty value counts as unset', () => {
    const c = load({
      GATEWAY_PORT: ' 9000 ',
      LOG_LEVEL: 'WARN',
      DEBUG: 'Yes',
      WEB_PORT: '   ',
      DATABASE_URL: '',
    });
    expect(c.ports.gateway).toBe(9000);
    expect(c.logLevel).toBe('warn');
    expect(c.debug).toBe(true);
    expect(c.ports.web).toBe(8080);
    expect(c.database.kind).toBe('sqlite');
  });

  test('booleans accept 1/0, true/false, yes/no, on/off', () => {
    for (const v of ['1', 'true', 'yes', 'on', 'TRUE']) expect(load({ DEBUG: v }).debug).toBe(true);
    for (const v of ['0', 'false', 'no', 'off', 'Off']) expect(load({ DEBUG: v }).debug).toBe(false);
  });
});

describe('production refuses to start without its secrets', () => {
  test('GAIA_JWT_SECRET missing', () => {
    const { GAIA_JWT_SECRET: _, ...env } = PROD;
    expectConfigError(env, 'GAIA_JWT_SECRET');
  });

  test('WEB_SESSION_SECRET missing', () => {
    const { WEB_SESSION_SECRET: _, ...env } = PROD;
    expectConfigError(env, 'WEB_SESSION_SECRET');
  });

  test('secrets shorter than 32 characters, and template placeholders, count as missing', () => {
    expectConfigError({ ...PROD, GAIA_JWT_SECRET: 'x'.repeat(31) }, 'GAIA_JWT_SECRET');
    expectConfigError({ ...PROD, WEB_SESSION_SECRET: 'short-web-secret' }, 'WEB_SESSION_SECRET');
    expectConfigError(
      { ...PROD, GAIA_JWT_SECRET: 'YOUR_JWT_SECRET_GOES_HERE_0123456789' },
      'GAIA_JWT_SECRET',
    );
  });

  test('split mode also needs GAIA_INTERNAL_SECRET; all-in-one does not', () => {
    expectConfigError(PROD, 'GAIA_INTERNAL_SECRET', { split: true });
    const split = load({ ...PROD, GAIA_INTERNAL_SECRET: `${SECRET_32}i` }, { split: true });
    expect(split.internalSecretConfigured).toBe(true);
    const allInOne = load(PROD);
    expect(allInOne.internalSecretConfigured).toBe(false);
  });

  test('with its secrets production starts and uses them', () => {
    const c = load(PROD);
    expect(c.env).toBe('production');
    expect(c.auth.jwtSecret).toBe(PROD.GAIA_JWT_SECRET);
    expect(c.web.sessionSecret).toBe(PROD.WEB_SESSION_SECRET);
  });

  test('SUPABASE_JWT_SECRET stands in for GAIA_JWT_SECRET (auth.md: the local provider signs with it)', () => {
    const { GAIA_JWT_SECRET: _, ...env } = PROD;
    const c = load({ ...env, SUPABASE_JWT_SECRET: `${SECRET_32}s` });
    expect(c.auth.jwtSecret).toBe(`${SECRET_32}s`);
  });
});

describe('older variable names are read as fallbacks', () => {
  test('ENVIRONMENT=prod and ENVIRONMENT=production mean production', () => {
    for (const value of ['prod', 'production', 'PROD']) {
      const { GAIA_ENV: _, ...secrets } = PROD;
      const c = load({ ...secrets, ENVIRONMENT: value });
      expect(c.env).toBe('production');
      expect(c.isProduction).toBe(true);
      // ...and so production's rules apply.
      expectConfigError({ ENVIRONMENT: value }, 'GAIA_JWT_SECRET');
    }
  });

  test('ENVIRONMENT=test means test; anything else development', () => {
    expect(load({ ENVIRONMENT: 'test' }).env).toBe('test');
    expect(load({ ENVIRONMENT: 'staging' }).env).toBe('development');
    expect(load({ ENVIRONMENT: 'dev' }).env).toBe('development');
  });

  test('GAIA_ENV wins over ENVIRONMENT', () => {
    expect(load({ GAIA_ENV: 'development', ENVIRONMENT: 'prod' }).env).toBe('development');
    expect(load({ ...PROD, ENVIRONMENT: 'development' }).env).toBe('production');
  });

  test('RATE_LIMIT_REQUESTS / RATE_LIMIT_PERIOD when GAIA_RATE_LIMIT is unset', () => {
    expect(load({ RATE_LIMIT_REQUESTS: '100', RATE_LIMIT_PERIOD: 'hour' }).gateway.rateLimit).toEqual({
      limit: 100,
      period: 'hour',
      windowMs: 3_600_000,
    });
    expect(load({ RATE_LIMIT_REQUESTS: '42' }).gateway.rateLimit).toEqual({
      limit: 42,
      period: 'minute',
      windowMs: 60_000,
    });
  });

  test('GAIA_RATE_LIMIT wins over the older pair', () => {
    const c = load({ GAIA_RATE_LIMIT: '5/second', RATE_LIMIT_REQUESTS: '100', RATE_LIMIT_PERIOD: 'hour' });
    expect(c.gateway.rateLimit).toEqual({ limit: 5, period: 'second', windowMs: 1000 });
  });
});
