/**
 * Typed configuration, read and validated once at start.
 * This is the only module that reads the environment: everything else receives a `Config`.
 * A bad value throws a ConfigError naming the variable; secrets never appear in messages.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export type GaiaEnv = 'development' | 'test' | 'production';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type ServiceName = 'auth' | 'asset' | 'chat' | 'kb';
export type RatePeriod = 'second' | 'minute' | 'hour' | 'day';

export interface RateLimit {
  limit: number;
  period: RatePeriod;
  /** Window length in milliseconds. */
  windowMs: number;
}

export interface Config {
  env: GaiaEnv;
  /** GAIA_SERVICE: run one service (`gateway`, `auth`, `chat`, `kb`, `asset`, `web`) instead of all. */
  service?: string;
  isProduction: boolean;
  debug: boolean;
  logLevel: LogLevel;
  /** LOG_FORMAT: one JSON object per line, or a readable line; independent of GAIA_ENV. */
  logFormat: 'json' | 'pretty';
  host: string;
  /** Directory for the SQLite file and generated dev secrets (`./data`). */
  dataDir: string;
  internalSecret: string;
  /** True when GAIA_INTERNAL_SECRET came from the environment (split mode requires it). */
  internalSecretConfigured: boolean;
  publicUrl: string;
  seedDev: boolean;
  version: string;
  /**
   * The environment this was read from. Services read their own sections from it with `Reader` (kb's lives in
   * services/kb/config.ts, asset's in services/asset/config.ts), so the kernel need not know every service's
   * settings.
   */
  source: Readonly<Env>;

  database: {
    url: string;
    kind: 'sqlite' | 'postgresql';
    sqlitePath: string;
    poolMax: number;
    autoMigrate: boolean;
  };
  nats: {
    url?: string;
    servers: string[];
    user?: string;
    password?: string;
    token?: string;
    credsFile?: string;
  };
  redisUrl?: string;

  ports: { gateway: number; web: number; auth: number; asset: number; chat: number; kb: number };
  /** A URL set here means that service is called over HTTP instead of being mounted in-process. */
  serviceUrls: Partial<Record<ServiceName, string>>;
  gatewayUrl?: string;

  gateway: {
    allowedOrigins: string[];
    rateLimit: RateLimit;
    authRateLimit: RateLimit;
    authFailureLimit: RateLimit;
    maxConcurrentStreams: number;
    rateLimitStore: 'memory' | 'nats' | 'redis';
    trustedProxies: number;
    requestTimeoutMs: number;
    chatTimeoutMs: number;
    healthTimeoutMs: number;
    maxBodyBytes: number;
    kbMaxBodyBytes: number;
  };

  auth: {
    provider: 'local' | 'supabase';
    jwtSecret: string;
    jwtTtlS: number;
    refreshTtlDays: number;
    jwtLeewayS: number;
    jwtIssuer?: string;
    minPasswordLength: number;
    allowedEmailDomains: string[];
    apiKeyCacheTtlS: number;
    supabaseUrl?: string;
    supabaseAnonKey?: string;
    supabaseServiceKey?: string;
    supabaseJwtSecret?: string;
    supabaseJwksUrl?: string;
    webBaseUrl: string;
    /** Email confirmation for the local provider (off by default). */
    requireEmailConfirmation: boolean;
  };

  chat: {
    anthropicApiKey?: string;
    anthropicBaseUrl?: string;
    openaiApiKey?: string;
    openaiBaseUrl: string;
    openaiModels: string[];
    localLlmEnabled: boolean;
    defaultProvider?: string;
    defaultModel?: string;
    claudeDefaultModel: string;
    openaiDefaultModel: string;
    enableFallback: boolean;
    firstTokenTimeoutMs: number;
    idleTimeoutMs: number;
    totalTimeoutMs: number;
    modelsFile?: string;
    localDelayMs: number;
    localFaults: boolean;
    maxMessageChars: number;
    heartbeatMs: number;
    conversationLockTimeoutMs: number;
    sessionMaxMessages: number;
    directives: boolean;
  };

  web: {
    sessionSecret: string;
    sessionMaxAge: number;
    cookieSecure: boolean;
    streamTimeoutS: number;
    conversationPageSize: number;
  };

  test: { databaseUrl?: string; natsUrl?: string; chromiumPath: string };
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`Invalid configuration: ${variable} ${reason}`);
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;

const PERIOD_MS: Record<RatePeriod, number> = {
  second: 1000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};

/** Placeholder values shipped in old `.env` templates count as unset. */
function isPlaceholder(v: string): boolean {
  return /^YOUR_/i.test(v) || v === 'https://placeholder.supabase.co' || v === 'placeholder';
}

/**
 * Reads typed values out of an environment. Services parse their own configuration sections with it, from
 * the same environment the kernel's sections came from (`Config.source`).
 */
export class Reader {
  constructor(private readonly env: Env) {}

  str(name: string): string | undefined {
    const v = this.env[name];
    if (v === undefined) return undefined;
    const t = v.trim();
    return t === '' ? undefined : t;
  }

  secret(name: string): string | undefined {
    const v = this.str(name);
    return v && !isPlaceholder(v) ? v : undefined;
  }

  strOr(name: string, dflt: string): string {
    return this.str(name) ?? dflt;
  }

  int(name: string, dflt: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.str(name);
    if (v === undefined) return dflt;
    if (!/^-?\d+$/.test(v)) throw new ConfigError(name, 'must be a whole number');
    const n = Number(v);
    if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}`);
    return n;
  }

  num(name: string, dflt: number, min = 0): number {
    const v = this.str(name);
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new ConfigError(name, `must be a number ≥ ${min}`);
    return n;
  }

  bool(name: string, dflt: boolean): boolean {
    const v = this.str(name);
    if (v === undefined) return dflt;
    const l = v.toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(l)) return true;
    if (['0', 'false', 'no', 'off'].includes(l)) return false;
    throw new ConfigError(name, 'must be true or false');
  }

  oneOf<T extends string>(name: string, values: readonly T[], dflt: T): T {
    const v = this.str(name);
    if (v === undefined) return dflt;
    const l = v.toLowerCase() as T;
    if (!values.includes(l)) throw new ConfigError(name, `must be one of ${values.join(', ')}`);
    return l;
  }

  list(name: string): string[] {
    const v = this.str(name);
    if (v === undefined) return [];
    return v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  }

  url(name: string, dflt?: string): string | undefined {
    const v = this.str(name) ?? dflt;
    if (v === undefined) return undefined;
    // `new URL('localhost:8666')` parses with scheme `localhost:`; a forgotten http:// must fail here.
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      throw new ConfigError(name, 'must be an absolute http:// or https:// URL');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      throw new ConfigError(name, 'must be an absolute http:// or https:// URL');
    return v.replace(/\/+$/, '');
  }

  port(name: string, dflt: number): number {
    return this.int(name, dflt, 0, 65535);
  }
}

export function parseRateLimit(name: string, value: string): RateLimit {
  const m = /^\s*(\d+)\s*\/\s*(\d*)\s*(second|minute|hour|day)s?\s*$/i.exec(value);
  if (!m) throw new ConfigError(name, 'must look like 600/minute');
  const limit = Number(m[1]);
  const count = m[2] ? Number(m[2]) : 1;
  const period = m[3]!.toLowerCase() as RatePeriod;
  if (limit < 1 || count < 1) throw new ConfigError(name, 'must be positive');
  return { limit, period, windowMs: PERIOD_MS[period] * count };
}

/** Describes a limit the way the 429 message does: `600 per 1 minute`. */
export function describeRateLimit(r: RateLimit): string {
  const n = Math.round(r.windowMs / PERIOD_MS[r.period]);
  return `${r.limit} per ${n} ${r.period}${n === 1 ? '' : 's'}`;
}

function readEnvName(r: Reader): GaiaEnv {
  const v = r.str('GAIA_ENV');
  if (v !== undefined)
    return r.oneOf('GAIA_ENV', ['development', 'test', 'production'] as const, 'development');
  const legacy = r.str('ENVIRONMENT')?.toLowerCase();
  if (legacy === 'prod' || legacy === 'production') return 'production';
  if (legacy === 'test') return 'test';
  return 'development';
}

/**
 * Secrets missing in development and test are generated once and kept under dataDir with mode 0600,
 * so tokens and cookies survive restarts. Exported for services that keep a secret of their own (the asset
 * service's download-link key).
 */
export function persistedSecret(dataDir: string, file: string): string {
  const path = join(dataDir, file);
  const read = (): string | undefined => {
    if (!existsSync(path)) return undefined;
    const v = readFileSync(path, 'utf8').trim();
    if (v.length < 32) return undefined;
    // A secret left readable by others is tightened, not trusted as is.
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
    return v;
  };
  const existing = read();
  if (existing) return existing;
  mkdirSync(dirname(path), { recursive: true });
  const v = randomSecret();
  try {
    // Exclusive create: processes starting together agree on whichever secret was written first.
    writeFileSync(path, v, { mode: 0o600, flag: existsSync(path) ? 'w' : 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const winner = read();
    if (winner) return winner;
    writeFileSync(path, v, { mode: 0o600 });
  }
  chmodSync(path, 0o600);
  return v;
}

function randomSecret(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url');
}

export interface LoadOptions {
  /** Split mode: this process runs one service and GAIA_INTERNAL_SECRET must be shared. */
  split?: boolean;
  /**
   * The service this process runs (`all` for all-in-one). Production requires only the secrets that
   * service uses: the JWT secret for gateway and auth, the session secret for web.
   */
  service?: 'all' | 'gateway' | ServiceName | 'web';
}

/** GAIA_SERVICE, read before the full configuration because it decides which secrets are required. */
export function selectedService(env: Env = process.env): string | undefined {
  const v = env.GAIA_SERVICE?.trim();
  return v && v !== 'all' ? v : undefined;
}

export function loadConfig(env: Env = process.env, opts: LoadOptions = {}): Config {
  const r = new Reader(env);
  const gaiaEnv = readEnvName(r);
  const isProduction = gaiaEnv === 'production';
  const dataDir = resolve(r.strOr('GAIA_DATA_DIR', './data'));

  // Database
  const dbUrl = r.str('DATABASE_URL');
  let dbKind: 'sqlite' | 'postgresql' = 'sqlite';
  let sqlitePath = join(dataDir, 'gaia.db');
  if (dbUrl !== undefined) {
    if (/^postgres(ql)?:\/\//i.test(dbUrl)) dbKind = 'postgresql';
    else if (dbUrl.startsWith('sqlite:')) {
      const p = dbUrl.slice('sqlite:'.length).replace(/^\/\//, '');
      if (p === '') throw new ConfigError('DATABASE_URL', 'has an empty sqlite path');
      sqlitePath = p === ':memory:' ? ':memory:' : resolve(p);
    } else throw new ConfigError('DATABASE_URL', 'must start with postgres://, postgresql:// or sqlite:');
  }

  // Secrets
  const service = opts.service ?? 'all';
  const requireSecret = (name: string, value: string | undefined, users: string[] = ['all']): void => {
    if (isProduction && users.includes(service) && (!value || value.length < 32))
      throw new ConfigError(name, 'is required in production (at least 32 characters)');
  };
  // Outside the processes that need a secret, production makes a throwaway one rather than writing files.
  const fallbackSecret = (file: string): string =>
    isProduction ? randomSecret() : persistedSecret(dataDir, file);
  const internalFromEnv = r.secret('GAIA_INTERNAL_SECRET');
  if (internalFromEnv !== undefined && internalFromEnv.length < 32)
    throw new ConfigError('GAIA_INTERNAL_SECRET', 'must be at least 32 characters');
  if (opts.split) requireSecret('GAIA_INTERNAL_SECRET', internalFromEnv, [service]);
  // Split processes in development must agree on the key, so they share a persisted one;
  // all-in-one makes a fresh one per start (nothing outside the process needs it).
  const internalSecret =
    internalFromEnv ?? (opts.split ? persistedSecret(dataDir, 'internal-secret') : randomSecret());

  const supabaseUrl = r.secret('SUPABASE_URL');
  const supabaseAnonKey = r.secret('SUPABASE_ANON_KEY');
  const supabaseJwtSecret = r.secret('SUPABASE_JWT_SECRET');
  const jwtFromEnv = r.secret('GAIA_JWT_SECRET') ?? supabaseJwtSecret;
  requireSecret('GAIA_JWT_SECRET', jwtFromEnv, ['all', 'gateway', 'auth']);
  const jwtSecret = jwtFromEnv ?? fallbackSecret('jwt-secret');
  const webSecretFromEnv = r.secret('WEB_SESSION_SECRET');
  requireSecret('WEB_SESSION_SECRET', webSecretFromEnv, ['all', 'web']);
  const webSessionSecret = webSecretFromEnv ?? fallbackSecret('web-session-secret');

  const providerSetting = r.oneOf('GAIA_AUTH_PROVIDER', ['auto', 'local', 'supabase'] as const, 'auto');
  const provider =
    providerSetting === 'auto' ? (supabaseUrl && supabaseAnonKey ? 'supabase' : 'local') : providerSetting;
  if (provider === 'supabase' && !(supabaseUrl && supabaseAnonKey))
    throw new ConfigError('GAIA_AUTH_PROVIDER', 'is supabase but SUPABASE_URL or SUPABASE_ANON_KEY is unset');

  // Rate limits: GAIA_RATE_LIMIT, else the Python-era pair.
  let rateLimit = parseRateLimit('GAIA_RATE_LIMIT', '600/minute');
  const rl = r.str('GAIA_RATE_LIMIT');
  if (rl) rateLimit = parseRateLimit('GAIA_RATE_LIMIT', rl);
  else if (r.str('RATE_LIMIT_REQUESTS')) {
    const n = r.int('RATE_LIMIT_REQUESTS', 600, 1);
    const p = r.oneOf('RATE_LIMIT_PERIOD', ['second', 'minute', 'hour', 'day'] as const, 'minute');
    rateLimit = { limit: n, period: p, windowMs: PERIOD_MS[p] };
  }

  const webBaseUrl = r.url('WEB_SERVICE_BASE_URL', 'http://localhost:8080')!;
  const natsUrl = r.str('NATS_URL');
  const rateLimitStore = r.oneOf('GAIA_RATE_LIMIT_STORE', ['memory', 'nats', 'redis'] as const, 'memory');
  if (rateLimitStore === 'nats' && !natsUrl)
    throw new ConfigError('GAIA_RATE_LIMIT_STORE', 'is nats but NATS_URL is unset');
  if (rateLimitStore === 'redis' && !r.str('REDIS_URL'))
    throw new ConfigError('GAIA_RATE_LIMIT_STORE', 'is redis but REDIS_URL is unset');

  const serviceUrls: Partial<Record<ServiceName, string>> = {};
  for (const s of ['auth', 'asset', 'chat', 'kb'] as const) {
    const u = r.url(`${s.toUpperCase()}_SERVICE_URL`);
    if (u) serviceUrls[s] = u;
  }

  const leeway = r.int('GAIA_JWT_LEEWAY_S', 0, 0, 60);

  return {
    env: gaiaEnv,
    service: selectedService(env),
    isProduction,
    debug: r.bool('DEBUG', false),
    logLevel: r.oneOf('LOG_LEVEL', ['debug', 'info', 'warn', 'error'] as const, 'info'),
    logFormat: r.oneOf('LOG_FORMAT', ['json', 'pretty'] as const, isProduction ? 'json' : 'pretty'),
    host: r.strOr('HOST', '0.0.0.0'),
    dataDir,
    internalSecret,
    internalSecretConfigured: internalFromEnv !== undefined,
    publicUrl: r.url('GAIA_PUBLIC_URL', 'http://localhost:8666')!,
    seedDev: r.bool('GAIA_SEED_DEV', !isProduction),
    version: '1.0.0',
    source: Object.freeze({ ...env }),

    database: {
      url: dbUrl ?? `sqlite:${sqlitePath}`,
      kind: dbKind,
      sqlitePath,
      poolMax: r.int('DATABASE_POOL_MAX', 10, 1, 1000),
      autoMigrate: r.bool('DATABASE_AUTO_MIGRATE', true),
    },
    nats: {
      url: natsUrl,
      servers: natsUrl ? r.list('NATS_URL') : [],
      user: r.str('NATS_USER'),
      password: r.str('NATS_PASSWORD'),
      token: r.str('NATS_TOKEN'),
      credsFile: r.str('NATS_CREDS_FILE'),
    },
    redisUrl: r.str('REDIS_URL'),

    ports: {
      gateway: r.port('GATEWAY_PORT', 8666),
      web: r.port('WEB_PORT', 8080),
      auth: r.port('AUTH_PORT', 8001),
      asset: r.port('ASSET_PORT', 8002),
      chat: r.port('CHAT_PORT', 8003),
      kb: r.port('KB_PORT', 8004),
    },
    serviceUrls,
    gatewayUrl: r.url('GATEWAY_URL'),

    gateway: {
      allowedOrigins: r.str('ALLOWED_ORIGINS')
        ? r.list('ALLOWED_ORIGINS')
        : ['http://localhost:8666', 'http://localhost:8080', 'http://localhost:3000'],
      rateLimit,
      authRateLimit: parseRateLimit('GAIA_AUTH_RATE_LIMIT', r.strOr('GAIA_AUTH_RATE_LIMIT', '10/minute')),
      authFailureLimit: parseRateLimit(
        'GAIA_AUTH_FAILURE_LIMIT',
        r.strOr('GAIA_AUTH_FAILURE_LIMIT', '30/minute'),
      ),
      maxConcurrentStreams: r.int('GAIA_MAX_CONCURRENT_STREAMS', 20, 1),
      rateLimitStore,
      trustedProxies: r.int('GAIA_TRUSTED_PROXIES', 0, 0, 32),
      requestTimeoutMs: r.num('GATEWAY_REQUEST_TIMEOUT', 30, 0.001) * 1000,
      chatTimeoutMs: r.num('GATEWAY_CHAT_TIMEOUT', 330, 0.001) * 1000,
      healthTimeoutMs: r.int('GAIA_HEALTH_TIMEOUT_MS', 1500, 1),
      maxBodyBytes: r.int('GAIA_MAX_BODY_BYTES', 1_048_576, 1),
      kbMaxBodyBytes: r.int('GAIA_KB_MAX_BODY_BYTES', 16_777_216, 1),
    },

    auth: {
      provider,
      jwtSecret,
      jwtTtlS: r.int('GAIA_JWT_TTL_S', 3600, 1),
      refreshTtlDays: r.int('GAIA_REFRESH_TTL_DAYS', 30, 1),
      jwtLeewayS: leeway,
      jwtIssuer: r.str('GAIA_JWT_ISSUER'),
      minPasswordLength: r.int('GAIA_AUTH_MIN_PASSWORD_LENGTH', 6, 1, 1024),
      allowedEmailDomains: r.list('GAIA_AUTH_ALLOWED_EMAIL_DOMAINS').map((d) => d.toLowerCase()),
      apiKeyCacheTtlS: r.int('GAIA_API_KEY_CACHE_TTL_S', 60, 0),
      supabaseUrl: supabaseUrl?.replace(/\/+$/, ''),
      supabaseAnonKey,
      supabaseServiceKey: r.secret('SUPABASE_SERVICE_KEY'),
      supabaseJwtSecret,
      supabaseJwksUrl:
        r.url('SUPABASE_JWKS_URL') ??
        (provider === 'supabase' && supabaseUrl
          ? `${supabaseUrl.replace(/\/+$/, '')}/auth/v1/.well-known/jwks.json`
          : undefined),
      webBaseUrl,
      requireEmailConfirmation: r.bool('GAIA_AUTH_REQUIRE_EMAIL_CONFIRMATION', false),
    },

    chat: {
      anthropicApiKey: r.secret('ANTHROPIC_API_KEY'),
      anthropicBaseUrl: r.url('ANTHROPIC_BASE_URL'),
      openaiApiKey: r.secret('OPENAI_API_KEY'),
      openaiBaseUrl: r.url('OPENAI_BASE_URL', 'https://api.openai.com/v1')!,
      openaiModels: r.list('OPENAI_MODELS'),
      localLlmEnabled: r.bool('LOCAL_LLM_ENABLED', false),
      defaultProvider: r.str('DEFAULT_LLM_PROVIDER'),
      defaultModel: r.str('DEFAULT_LLM_MODEL'),
      claudeDefaultModel: r.strOr('CLAUDE_DEFAULT_MODEL', 'claude-haiku-4-5'),
      openaiDefaultModel: r.strOr('OPENAI_DEFAULT_MODEL', 'gpt-4o-mini'),
      enableFallback: r.bool('LLM_ENABLE_FALLBACK', true),
      firstTokenTimeoutMs: r.int('LLM_FIRST_TOKEN_TIMEOUT_MS', 60_000, 1),
      idleTimeoutMs: r.int('LLM_IDLE_TIMEOUT_MS', 60_000, 1),
      totalTimeoutMs: r.int('LLM_TOTAL_TIMEOUT_MS', 300_000, 1),
      modelsFile: r.str('GAIA_MODELS_FILE'),
      localDelayMs: r.int('LOCAL_LLM_DELAY_MS', 0, 0, 60_000),
      localFaults: r.bool('LOCAL_LLM_FAULTS', false),
      maxMessageChars: r.int('CHAT_MAX_MESSAGE_CHARS', 100_000, 1),
      heartbeatMs: r.int('CHAT_HEARTBEAT_MS', 15_000, 1),
      conversationLockTimeoutMs: r.int('CHAT_CONVERSATION_LOCK_TIMEOUT_MS', 120_000, 1),
      sessionMaxMessages: r.int('CHAT_SESSION_MAX_MESSAGES', 50, 1),
      directives: r.bool('CHAT_DIRECTIVES', true),
    },

    web: {
      sessionSecret: webSessionSecret,
      sessionMaxAge: r.int('WEB_SESSION_MAX_AGE', 86_400, 1),
      cookieSecure: r.bool('WEB_COOKIE_SECURE', webBaseUrl.startsWith('https:')),
      streamTimeoutS: r.int('WEB_STREAM_TIMEOUT', 120, 1),
      conversationPageSize: r.int('WEB_CONVERSATION_PAGE_SIZE', 50, 1, 500),
    },

    test: {
      databaseUrl: r.str('GAIA_TEST_DATABASE_URL'),
      natsUrl: r.str('GAIA_TEST_NATS_URL'),
      chromiumPath: r.strOr('CHROMIUM_PATH', '/usr/bin/chromium'),
    },
  };
}
