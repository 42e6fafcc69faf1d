/**
 * With nothing set, loadConfig gives exactly the defaults of spec/data.md §7's table.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAssetConfig } from '../../services/asset/config.ts';
import { readKbConfig } from '../../services/kb/config.ts';
import { type Config, describeRateLimit, loadConfig, parseRateLimit } from '../../src/config.ts';

const dirs: string[] = [];
function tempDir(): string {
  const d = realpathSync(mkdtempSync(join(tmpdir(), 'gaia-config-defaults-')));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** loadConfig on an empty environment, run from a fresh folder so `./data` lands there. */
function loadFromEmptyEnv(): { config: Config; cwd: string } {
  const cwd = tempDir();
  const before = process.cwd();
  process.chdir(cwd);
  try {
    return { config: loadConfig({}), cwd };
  } finally {
    process.chdir(before);
  }
}

describe('loadConfig defaults (data.md §7)', () => {
  const { config: c, cwd } = loadFromEmptyEnv();
  const data = join(cwd, 'data');

  test('common', () => {
    expect(c.env).toBe('development');
    expect(c.isProduction).toBe(false);
    expect(c.debug).toBe(false);
    expect(c.logLevel).toBe('info');
    expect(c.host).toBe('0.0.0.0');
    expect(c.dataDir).toBe(data);
    expect(c.publicUrl).toBe('http://localhost:8666');
    expect(c.seedDev).toBe(true);
    expect(c.version).toBe('1.0.0');
    // Generated afresh by all-in-one, not taken from the environment.
    expect(c.internalSecretConfigured).toBe(false);
    expect(c.internalSecret.length).toBeGreaterThanOrEqual(32);
  });

  test('database and bus', () => {
    expect(c.database).toEqual({
      url: `sqlite:${join(data, 'gaia.db')}`,
      kind: 'sqlite',
      sqlitePath: join(data, 'gaia.db'),
      poolMax: 10,
      autoMigrate: true,
    });
    expect(c.nats).toEqual({
      url: undefined,
      servers: [],
      user: undefined,
      password: undefined,
      token: undefined,
      credsFile: undefined,
    });
    expect(c.redisUrl).toBeUndefined();
  });

  test('ports and service URLs', () => {
    expect(c.ports).toEqual({ gateway: 8666, web: 8080, auth: 8001, asset: 8002, chat: 8003, kb: 8004 });
    expect(c.serviceUrls).toEqual({});
    expect(c.gatewayUrl).toBeUndefined();
  });

  test('gateway', () => {
    const g = c.gateway;
    expect(g.allowedOrigins).toEqual([
      'http://localhost:8666',
      'http://localhost:8080',
      'http://localhost:3000',
    ]);
    expect(g.rateLimit).toEqual({ limit: 600, period: 'minute', windowMs: 60_000 });
    expect(g.authRateLimit).toEqual({ limit: 10, period: 'minute', windowMs: 60_000 });
    expect(g.authFailureLimit).toEqual({ limit: 30, period: 'minute', windowMs: 60_000 });
    expect(g.maxConcurrentStreams).toBe(20);
    expect(g.rateLimitStore).toBe('memory');
    expect(g.trustedProxies).toBe(0);
    expect(g.requestTimeoutMs).toBe(30_000);
    expect(g.chatTimeoutMs).toBe(330_000);
    expect(g.healthTimeoutMs).toBe(1500);
    expect(g.maxBodyBytes).toBe(1024 * 1024);
    expect(g.kbMaxBodyBytes).toBe(16 * 1024 * 1024);
  });

  test('auth', () => {
    const a = c.auth;
    expect(a.provider).toBe('local');
    expect(a.jwtSecret.length).toBeGreaterThanOrEqual(32);
    expect(a.jwtTtlS).toBe(3600);
    expect(a.refreshTtlDays).toBe(30);
    expect(a.jwtLeewayS).toBe(0);
    expect(a.jwtIssuer).toBeUndefined();
    expect(a.minPasswordLength).toBe(6);
    expect(a.allowedEmailDomains).toEqual([]);
    expect(a.apiKeyCacheTtlS).toBe(60);
    expect(a.supabaseUrl).toBeUndefined();
    expect(a.supabaseAnonKey).toBeUndefined();
    expect(a.supabaseServiceKey).toBeUndefined();
    expect(a.supabaseJwtSecret).toBeUndefined();
    expect(a.supabaseJwksUrl).toBeUndefined();
    expect(a.webBaseUrl).toBe('http://localhost:8080');
    expect(a.requireEmailConfirmation).toBe(false);
  });

  test('chat', () => {
    expect(c.chat).toEqual({
      anthropicApiKey: undefined,
      anthropicBaseUrl: undefined,
      openaiApiKey: undefined,
      openaiBaseUrl: 'https://api.openai.com/v1',
      openaiModels: [],
      localLlmEnabled: false,
      defaultProvider: undefined,
      defaultModel: undefined,
      claudeDefaultModel: 'claude-haiku-4-5',
      openaiDefaultModel: 'gpt-4o-mini',
      enableFallback: true,
      firstTokenTimeoutMs: 60_000,
      idleTimeoutMs: 60_000,
      totalTimeoutMs: 300_000,
      modelsFile: undefined,
      localDelayMs: 0,
      localFaults: false,
      maxMessageChars: 100_000,
      heartbeatMs: 15_000,
      conversationLockTimeoutMs: 120_000,
      sessionMaxMessages: 50,
      directives: true,
    });
  });

  test('knowledge base (the kb service reads its own section from the same environment)', () => {
    expect(readKbConfig(c)).toEqual({
      path: join(data, 'kb'),
      gitRepoUrl: undefined,
      gitAuthToken: undefined,
      gitBranch: 'main',
      autoClone: true,
      autoSync: true,
      syncIntervalS: 3600,
      pushEnabled: false,
      webhookSecret: undefined,
      committerName: 'KB Service',
      committerEmail: 'kb@gaia.dev',
      maxFileBytes: 10_485_760,
      mcpEnabled: true,
    });
  });

  test('assets (the asset service reads its own section from the same environment)', () => {
    const { urlSecret, ...a } = readAssetConfig(c);
    expect(urlSecret.length).toBeGreaterThanOrEqual(32);
    expect(a).toEqual({
      storage: 'local',
      storageDir: join(data, 'assets'),
      s3: {
        bucket: undefined,
        endpoint: undefined,
        region: undefined,
        accessKeyId: undefined,
        secretAccessKey: undefined,
        prefix: undefined,
        forcePathStyle: false,
      },
      publicUrl: 'http://localhost:8666',
      urlTtlSeconds: 604_800,
      defaultWaitMs: 25_000,
      dailyBudgetUsd: 5,
      dedupScope: 'user',
      maxFileMb: 100,
      maxConcurrentGenerations: 5,
      pricingFile: undefined,
      localProvider: true,
      providerTimeoutMs: 60_000,
      providerOrder: {},
      openai: { apiKey: undefined, imagesBaseUrl: 'https://api.openai.com/v1', imageModel: 'gpt-image-1' },
      stability: {
        apiKey: undefined,
        apiBase: 'https://api.stability.ai',
        apiVersion: 'v2beta',
        engine: 'stable-diffusion-xl-1024-v1-0',
      },
      meshy: {
        apiKey: undefined,
        apiBase: 'https://api.meshy.ai/openapi',
        model: 'latest',
        pollIntervalMs: 10_000,
        timeoutMs: 600_000,
        maxPromptChars: 600,
        testMode: false,
      },
      elevenlabs: { apiKey: undefined, apiBase: 'https://api.elevenlabs.io' },
      mubert: {
        apiKey: undefined,
        apiBase: 'https://api-b2b.mubert.com/v2',
        pollIntervalMs: 3000,
        timeoutMs: 180_000,
      },
    });
  });

  test('web', () => {
    const { sessionSecret, ...w } = c.web;
    expect(sessionSecret.length).toBeGreaterThanOrEqual(32);
    expect(w).toEqual({
      sessionMaxAge: 86_400,
      cookieSecure: false,
      streamTimeoutS: 120,
      conversationPageSize: 50,
    });
  });

  test('tests', () => {
    expect(c.test).toEqual({ databaseUrl: undefined, natsUrl: undefined, chromiumPath: '/usr/bin/chromium' });
  });

  test('the three generated secrets differ from each other', () => {
    const assetUrlSecret = readAssetConfig(c).urlSecret;
    expect(new Set([c.auth.jwtSecret, c.web.sessionSecret, assetUrlSecret, c.internalSecret]).size).toBe(4);
  });
});

describe('documented derived defaults', () => {
  test('GAIA_SEED_DEV defaults to false in production', () => {
    const c = loadConfig({
      GAIA_ENV: 'production',
      GAIA_DATA_DIR: tempDir(),
      GAIA_JWT_SECRET: 'j'.repeat(32),
      WEB_SESSION_SECRET: 'w'.repeat(32),
    });
    expect(c.seedDev).toBe(false);
    expect(c.isProduction).toBe(true);
  });

  test('WEB_COOKIE_SECURE follows an https WEB_SERVICE_BASE_URL', () => {
    const c = loadConfig({ GAIA_DATA_DIR: tempDir(), WEB_SERVICE_BASE_URL: 'https://gaia.example.com/' });
    expect(c.web.cookieSecure).toBe(true);
    expect(c.auth.webBaseUrl).toBe('https://gaia.example.com');
  });

  test('Supabase is chosen automatically when its URL and anon key are real values', () => {
    const dir = tempDir();
    const real = loadConfig({
      GAIA_DATA_DIR: dir,
      SUPABASE_URL: 'https://abc.supabase.co/',
      SUPABASE_ANON_KEY: 'anon-key',
    });
    expect(real.auth.provider).toBe('supabase');
    expect(real.auth.supabaseJwksUrl).toBe('https://abc.supabase.co/auth/v1/.well-known/jwks.json');
    const placeholder = loadConfig({
      GAIA_DATA_DIR: dir,
      SUPABASE_URL: 'https://placeholder.supabase.co',
      SUPABASE_ANON_KEY: 'YOUR_SUPABASE_ANON_KEY',
    });
    expect(placeholder.auth.provider).toBe('local');
  });

  test('NATS_URL as a comma list names a cluster', () => {
    const c = loadConfig({ GAIA_DATA_DIR: tempDir(), NATS_URL: 'nats://a:4222, nats://b:4222' });
    expect(c.nats.servers).toEqual(['nats://a:4222', 'nats://b:4222']);
  });

  test('ASSET_PROVIDER_ORDER_<CATEGORY> lists providers per category', () => {
    const c = loadConfig({ GAIA_DATA_DIR: tempDir(), ASSET_PROVIDER_ORDER_IMAGE: 'stability, openai' });
    expect(readAssetConfig(c).providerOrder).toEqual({ image: ['stability', 'openai'] });
  });

  test('sqlite: URLs select SQLite files and memory', () => {
    const dir = tempDir();
    expect(loadConfig({ GAIA_DATA_DIR: dir, DATABASE_URL: 'sqlite::memory:' }).database.sqlitePath).toBe(
      ':memory:',
    );
    const file = join(dir, 'other.db');
    const c = loadConfig({ GAIA_DATA_DIR: dir, DATABASE_URL: `sqlite:${file}` });
    expect(c.database).toMatchObject({ kind: 'sqlite', sqlitePath: file });
    const pg = loadConfig({ GAIA_DATA_DIR: dir, DATABASE_URL: 'postgresql://u@h:5432/db' });
    expect(pg.database.kind).toBe('postgresql');
  });

  test('rate limits read like 600/minute and describe themselves like the 429 message', () => {
    expect(parseRateLimit('X', '100/5minutes')).toEqual({ limit: 100, period: 'minute', windowMs: 300_000 });
    expect(parseRateLimit('X', ' 3 / hour ')).toEqual({ limit: 3, period: 'hour', windowMs: 3_600_000 });
    expect(describeRateLimit(parseRateLimit('X', '600/minute'))).toBe('600 per 1 minute');
    expect(describeRateLimit(parseRateLimit('X', '10/2days'))).toBe('10 per 2 days');
  });
});
