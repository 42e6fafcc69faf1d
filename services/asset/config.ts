/**
 * The asset service's settings, read from the same environment as the rest of Gaia's configuration. The asset
 * service owns them: the kernel only hands over the environment, the data folder, the public URL and whether a
 * shared internal secret was configured (the download-link key derives from it).
 */
import { join, resolve } from 'node:path';
import { type Config, ConfigError, persistedSecret, Reader } from '../../src/config.ts';
import { CATEGORIES, type Category, PROVIDERS, type ProviderId } from './types.ts';

export interface AssetConfig {
  storage: 'local' | 's3';
  /** Root of local storage (absolute). */
  storageDir: string;
  s3: {
    bucket?: string;
    endpoint?: string;
    region?: string;
    accessKeyId?: string;
    secretAccessKey?: string;
    prefix?: string;
    forcePathStyle: boolean;
  };
  /** Base of every URL the service returns (GAIA_PUBLIC_URL, no trailing slash). */
  publicUrl: string;
  /** HMAC key of signed download links. */
  urlSecret: string;
  urlTtlSeconds: number;
  defaultWaitMs: number;
  /** 0 = no cap. */
  dailyBudgetUsd: number;
  dedupScope: 'user' | 'global';
  maxFileMb: number;
  maxConcurrentGenerations: number;
  pricingFile?: string;
  /** Offer the offline `local` provider. */
  localProvider: boolean;
  providerTimeoutMs: number;
  /** ASSET_PROVIDER_ORDER_<CATEGORY>: only the categories that were set. */
  providerOrder: Partial<Record<Category, ProviderId[]>>;
  openai: {
    /** The same OPENAI_API_KEY chat reads for itself. */
    apiKey?: string;
    imagesBaseUrl: string;
    imageModel: string;
  };
  stability: {
    apiKey?: string;
    apiBase: string;
    /** `v2beta` (stable-image core/sd3/ultra) or the legacy `v1` engine API. */
    apiVersion: 'v2beta' | 'v1';
    /** Engine of the `v1` API only. */
    engine: string;
  };
  meshy: {
    apiKey?: string;
    apiBase: string;
    model: string;
    pollIntervalMs: number;
    timeoutMs: number;
    maxPromptChars: number;
    /** Use Meshy's public test key: sample results, no credits spent. */
    testMode: boolean;
  };
  elevenlabs: { apiKey?: string; apiBase: string };
  mubert: {
    apiKey?: string;
    apiBase: string;
    /** Not environment settings: fixed by the provider's documented behaviour, kept here so tests can shorten them. */
    pollIntervalMs: number;
    timeoutMs: number;
  };
}

export type AssetConfigSource = Pick<
  Config,
  'source' | 'dataDir' | 'publicUrl' | 'internalSecret' | 'internalSecretConfigured'
>;

/** Reads and validates the asset section; a bad value throws a ConfigError naming the variable. */
export function readAssetConfig(config: AssetConfigSource): AssetConfig {
  const r = new Reader(config.source);
  // Every process that shares GAIA_INTERNAL_SECRET must verify the links the others signed, so the key is
  // derived from it; without one, a key kept on disk survives restarts (links stay valid for their TTL).
  const urlSecret =
    r.secret('ASSET_URL_SECRET') ??
    (config.internalSecretConfigured
      ? new Bun.CryptoHasher('sha256').update(`asset-url:${config.internalSecret}`).digest('base64url')
      : persistedSecret(config.dataDir, 'asset-url-secret'));

  return {
    storage: r.oneOf('ASSET_STORAGE', ['local', 's3'] as const, 'local'),
    storageDir: resolve(r.strOr('ASSET_STORAGE_DIR', join(config.dataDir, 'assets'))),
    s3: {
      bucket: r.str('ASSET_S3_BUCKET'),
      endpoint: r.url('ASSET_S3_ENDPOINT'),
      region: r.str('ASSET_S3_REGION'),
      accessKeyId: r.secret('ASSET_S3_ACCESS_KEY_ID'),
      secretAccessKey: r.secret('ASSET_S3_SECRET_ACCESS_KEY'),
      prefix: r.str('ASSET_S3_PREFIX'),
      forcePathStyle: r.bool('ASSET_S3_FORCE_PATH_STYLE', false),
    },
    publicUrl: config.publicUrl,
    urlSecret,
    urlTtlSeconds: r.int('ASSET_URL_TTL_SECONDS', 604_800, 1),
    defaultWaitMs: r.int('ASSET_DEFAULT_WAIT_MS', 25_000, 0),
    dailyBudgetUsd: r.num('ASSET_DAILY_BUDGET_USD', 5),
    dedupScope: r.oneOf('ASSET_DEDUP_SCOPE', ['user', 'global'] as const, 'user'),
    maxFileMb: r.int('ASSET_MAX_FILE_MB', 100, 1),
    maxConcurrentGenerations: r.int('MAX_CONCURRENT_GENERATIONS', 5, 1),
    pricingFile: r.str('ASSET_PRICING_FILE'),
    localProvider: r.bool('ASSET_LOCAL_PROVIDER', true),
    providerTimeoutMs: r.int('ASSET_PROVIDER_TIMEOUT_MS', 60_000, 1),
    providerOrder: readProviderOrder(config.source, r),
    openai: {
      apiKey: r.secret('OPENAI_API_KEY'),
      imagesBaseUrl: r.url('OPENAI_IMAGES_BASE_URL', 'https://api.openai.com/v1')!,
      imageModel: r.strOr('OPENAI_IMAGE_MODEL', 'gpt-image-1'),
    },
    stability: {
      apiKey: r.secret('STABILITY_API_KEY'),
      apiBase: r.url('STABILITY_API_BASE', 'https://api.stability.ai')!,
      apiVersion: r.oneOf('STABILITY_API_VERSION', ['v2beta', 'v1'] as const, 'v2beta'),
      engine: r.strOr('STABILITY_ENGINE', 'stable-diffusion-xl-1024-v1-0'),
    },
    meshy: {
      apiKey: r.secret('MESHY_API_KEY'),
      apiBase: r.url('MESHY_API_BASE', 'https://api.meshy.ai/openapi')!,
      model: r.strOr('MESHY_AI_MODEL', 'latest'),
      pollIntervalMs: r.int('MESHY_POLL_INTERVAL_MS', 10_000, 1),
      timeoutMs: r.int('MESHY_TIMEOUT_MS', 600_000, 1),
      maxPromptChars: r.int('MESHY_MAX_PROMPT_CHARS', 600, 1),
      testMode: r.bool('MESHY_TEST_MODE', false),
    },
    elevenlabs: {
      apiKey: r.secret('ELEVENLABS_API_KEY'),
      apiBase: r.url('ELEVENLABS_API_BASE', 'https://api.elevenlabs.io')!,
    },
    mubert: {
      apiKey: r.secret('MUBERT_API_KEY'),
      apiBase: r.url('MUBERT_API_BASE', 'https://api-b2b.mubert.com/v2')!,
      pollIntervalMs: 3000,
      timeoutMs: 180_000,
    },
  };
}

/**
 * ASSET_PROVIDER_ORDER_<CATEGORY> variables. A misspelt category or provider would otherwise be ignored in
 * silence and the default order used, so both are refused at start.
 */
function readProviderOrder(env: Config['source'], r: Reader): Partial<Record<Category, ProviderId[]>> {
  const order: Partial<Record<Category, ProviderId[]>> = {};
  for (const name of Object.keys(env).sort()) {
    const m = /^ASSET_PROVIDER_ORDER_([A-Z0-9_]+)$/.exec(name);
    if (!m) continue;
    const category = m[1]!.toLowerCase() as Category;
    if (!CATEGORIES.includes(category))
      throw new ConfigError(name, `names no category (one of ${CATEGORIES.join(', ')})`);
    const list = r.list(name).map((p) => p.toLowerCase());
    if (list.length === 0) continue;
    for (const p of list)
      if (!PROVIDERS.includes(p as ProviderId))
        throw new ConfigError(name, `must list providers among ${PROVIDERS.join(', ')}`);
    order[category] = [...new Set(list)] as ProviderId[];
  }
  return order;
}
