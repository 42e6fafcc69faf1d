/**
 * The asset service's configuration section: every variable it reads, the download-link key's three sources,
 * per-category provider orders, and that the kernel no longer knows any asset setting.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAssetConfig } from '../../services/asset/config.ts';
import { ConfigError, type Env, loadConfig } from '../../src/config.ts';

const ROOT = join(import.meta.dir, '..', '..');
const dirs: string[] = [];
function tempDir(): string {
  const d = realpathSync(mkdtempSync(join(tmpdir(), 'gaia-asset-config-')));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function asset(env: Env, opts?: Parameters<typeof loadConfig>[1]) {
  return readAssetConfig(loadConfig({ GAIA_DATA_DIR: tempDir(), ...env }, opts));
}

describe('readAssetConfig', () => {
  test('reads every variable it documents', () => {
    const storageDir = join(tempDir(), 'store');
    const a = asset({
      ASSET_STORAGE: 'S3',
      ASSET_STORAGE_DIR: storageDir,
      ASSET_S3_BUCKET: 'gaia-assets',
      ASSET_S3_ENDPOINT: 'https://s3.example.com/',
      ASSET_S3_REGION: 'eu-west-1',
      ASSET_S3_ACCESS_KEY_ID: 'AKIAEXAMPLE',
      ASSET_S3_SECRET_ACCESS_KEY: 's3-secret-value',
      ASSET_S3_PREFIX: 'prod/',
      ASSET_S3_FORCE_PATH_STYLE: 'true',
      GAIA_PUBLIC_URL: 'https://gaia.example.com/',
      ASSET_URL_SECRET: 'link-secret-0123456789abcdef-0123456',
      ASSET_URL_TTL_SECONDS: '3600',
      ASSET_DEFAULT_WAIT_MS: '1000',
      ASSET_DAILY_BUDGET_USD: '0',
      ASSET_DEDUP_SCOPE: 'global',
      ASSET_MAX_FILE_MB: '7',
      MAX_CONCURRENT_GENERATIONS: '2',
      ASSET_PRICING_FILE: '/etc/gaia/prices.json',
      ASSET_LOCAL_PROVIDER: 'false',
      ASSET_PROVIDER_TIMEOUT_MS: '5000',
      OPENAI_API_KEY: 'sk-openai-test',
      OPENAI_IMAGES_BASE_URL: 'http://127.0.0.1:9999/v1/',
      OPENAI_IMAGE_MODEL: 'gpt-image-1.5',
      STABILITY_API_KEY: 'sk-stability',
      STABILITY_API_BASE: 'http://127.0.0.1:9998',
      STABILITY_API_VERSION: 'V1',
      STABILITY_ENGINE: 'sdxl-other',
      MESHY_API_KEY: 'msy-key',
      MESHY_API_BASE: 'http://127.0.0.1:9997/openapi',
      MESHY_AI_MODEL: 'meshy-5',
      MESHY_POLL_INTERVAL_MS: '50',
      MESHY_TIMEOUT_MS: '2000',
      MESHY_MAX_PROMPT_CHARS: '200',
      MESHY_TEST_MODE: 'true',
      ELEVENLABS_API_KEY: 'xi-key',
      ELEVENLABS_API_BASE: 'http://127.0.0.1:9996/',
      MUBERT_API_KEY: 'mubert-key',
      MUBERT_API_BASE: 'http://127.0.0.1:9995/v2',
    });
    expect(a).toEqual({
      storage: 's3',
      storageDir,
      s3: {
        bucket: 'gaia-assets',
        endpoint: 'https://s3.example.com',
        region: 'eu-west-1',
        accessKeyId: 'AKIAEXAMPLE',
        secretAccessKey: 's3-secret-value',
        prefix: 'prod/',
        forcePathStyle: true,
      },
      publicUrl: 'https://gaia.example.com',
      urlSecret: 'link-secret-0123456789abcdef-0123456',
      urlTtlSeconds: 3600,
      defaultWaitMs: 1000,
      dailyBudgetUsd: 0,
      dedupScope: 'global',
      maxFileMb: 7,
      maxConcurrentGenerations: 2,
      pricingFile: '/etc/gaia/prices.json',
      localProvider: false,
      providerTimeoutMs: 5000,
      providerOrder: {},
      openai: {
        apiKey: 'sk-openai-test',
        imagesBaseUrl: 'http://127.0.0.1:9999/v1',
        imageModel: 'gpt-image-1.5',
      },
      stability: {
        apiKey: 'sk-stability',
        apiBase: 'http://127.0.0.1:9998',
        apiVersion: 'v1',
        engine: 'sdxl-other',
      },
      meshy: {
        apiKey: 'msy-key',
        apiBase: 'http://127.0.0.1:9997/openapi',
        model: 'meshy-5',
        pollIntervalMs: 50,
        timeoutMs: 2000,
        maxPromptChars: 200,
        testMode: true,
      },
      elevenlabs: { apiKey: 'xi-key', apiBase: 'http://127.0.0.1:9996' },
      mubert: {
        apiKey: 'mubert-key',
        apiBase: 'http://127.0.0.1:9995/v2',
        pollIntervalMs: 3000,
        timeoutMs: 180_000,
      },
    });
  });

  test('the OpenAI key is the one chat reads too; template placeholders count as unset', () => {
    const config = loadConfig({ GAIA_DATA_DIR: tempDir(), OPENAI_API_KEY: 'sk-shared' });
    expect(readAssetConfig(config).openai.apiKey).toBe('sk-shared');
    expect(config.chat.openaiApiKey).toBe('sk-shared');
    expect(asset({ OPENAI_API_KEY: 'YOUR_OPENAI_API_KEY', ELEVENLABS_API_KEY: 'placeholder' })).toMatchObject(
      {
        openai: { apiKey: undefined },
        elevenlabs: { apiKey: undefined },
      },
    );
  });

  test('the storage folder defaults to <data>/assets', () => {
    const dataDir = tempDir();
    expect(readAssetConfig(loadConfig({ GAIA_DATA_DIR: dataDir })).storageDir).toBe(join(dataDir, 'assets'));
  });
});

describe('download-link key', () => {
  test('ASSET_URL_SECRET wins, and nothing is written for it', () => {
    const dataDir = tempDir();
    const config = loadConfig({
      GAIA_DATA_DIR: dataDir,
      GAIA_INTERNAL_SECRET: 'internal-secret-0123456789abcdef-0123',
      ASSET_URL_SECRET: 'explicit-link-secret-0123456789abcdef',
    });
    expect(readAssetConfig(config).urlSecret).toBe('explicit-link-secret-0123456789abcdef');
    expect(existsSync(join(dataDir, 'asset-url-secret'))).toBe(false);
  });

  test('derived from GAIA_INTERNAL_SECRET: equal across processes and data folders, never the secret itself', () => {
    const internal = 'internal-secret-0123456789abcdef-0123';
    const a = asset({ GAIA_INTERNAL_SECRET: internal }, { split: true });
    const b = asset({ GAIA_INTERNAL_SECRET: internal });
    const other = asset({ GAIA_INTERNAL_SECRET: `${internal}-other` });
    expect(a.urlSecret).toBe(b.urlSecret);
    expect(a.urlSecret).not.toBe(internal);
    expect(other.urlSecret).not.toBe(a.urlSecret);
    const expected = new Bun.CryptoHasher('sha256').update(`asset-url:${internal}`).digest('base64url');
    expect(a.urlSecret).toBe(expected);
  });

  test('a generated internal secret (all-in-one, nothing set) is not used: the key is persisted instead', () => {
    const dataDir = tempDir();
    const config = loadConfig({ GAIA_DATA_DIR: dataDir });
    const first = readAssetConfig(config).urlSecret;
    expect(readdirSync(dataDir)).toContain('asset-url-secret');
    expect(readFileSync(join(dataDir, 'asset-url-secret'), 'utf8').trim()).toBe(first);
    // The next start makes a new internal secret but must keep the links it signed valid.
    expect(readAssetConfig(loadConfig({ GAIA_DATA_DIR: dataDir })).urlSecret).toBe(first);
  });
});

describe('ASSET_PROVIDER_ORDER_<CATEGORY>', () => {
  test('one list per category, lower-cased and without repeats', () => {
    const a = asset({
      ASSET_PROVIDER_ORDER_IMAGE: 'Stability, openai, stability',
      ASSET_PROVIDER_ORDER_AUDIO: 'mubert,elevenlabs',
      ASSET_PROVIDER_ORDER_TEXTURE: ' ',
    });
    expect(a.providerOrder).toEqual({ image: ['stability', 'openai'], audio: ['mubert', 'elevenlabs'] });
  });

  test('an unknown category or provider stops the start, naming the variable but not the value', () => {
    const cases: Array<[string, string]> = [
      ['ASSET_PROVIDER_ORDER_VEHICLE', 'openai'],
      ['ASSET_PROVIDER_ORDER_IMAGE', 'openai,dalle-mystery'],
    ];
    for (const [name, value] of cases) {
      let caught: unknown;
      try {
        asset({ [name]: value });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      expect((caught as ConfigError).variable).toBe(name);
      expect((caught as ConfigError).message).not.toContain(value);
    }
  });
});

describe('bad values name the variable', () => {
  const cases: Array<[string, string]> = [
    ['ASSET_STORAGE', 'gcs'],
    ['ASSET_S3_ENDPOINT', 's3.example.com'],
    ['ASSET_URL_TTL_SECONDS', '0'],
    ['ASSET_DEFAULT_WAIT_MS', 'soon'],
    ['ASSET_DAILY_BUDGET_USD', 'lots'],
    ['ASSET_MAX_FILE_MB', '0'],
    ['MAX_CONCURRENT_GENERATIONS', '0'],
    ['ASSET_LOCAL_PROVIDER', 'maybe'],
    ['STABILITY_API_VERSION', 'v3'],
    ['OPENAI_IMAGES_BASE_URL', 'api.openai.com/v1'],
    ['ELEVENLABS_API_BASE', 'elevenlabs'],
    ['MESHY_TEST_MODE', 'kinda'],
    ['MESHY_MAX_PROMPT_CHARS', '0'],
  ];
  for (const [name, value] of cases)
    test(`${name}=${value}`, () => {
      expect(() => asset({ [name]: value })).toThrow(ConfigError);
      try {
        asset({ [name]: value });
      } catch (err) {
        expect((err as ConfigError).variable).toBe(name);
      }
    });
});

test('the kernel knows no asset setting any more', () => {
  const kernel = readFileSync(join(ROOT, 'src', 'config.ts'), 'utf8');
  for (const name of [
    'ASSET_STORAGE',
    'ASSET_URL_SECRET',
    'OPENAI_IMAGE_MODEL',
    'MESHY_API_KEY',
    'ASSET_PROVIDER_ORDER_',
  ])
    expect(kernel).not.toContain(name);
  const config = loadConfig({ GAIA_DATA_DIR: tempDir() }) as unknown as Record<string, unknown>;
  expect(config.asset).toBeUndefined();
  const offenders = [...new Bun.Glob('{src,wiring}/**/*.ts').scanSync({ cwd: ROOT })].filter((f) =>
    /\bconfig\.asset\b/.test(readFileSync(join(ROOT, f), 'utf8')),
  );
  expect(offenders).toEqual([]);
});
