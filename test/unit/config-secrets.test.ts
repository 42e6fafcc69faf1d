/**
 * Secrets missing in development and test are generated once under GAIA_DATA_DIR with mode 0600 and reused
 * on the next start (data.md §7), so tokens, cookies and download links survive restarts.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAssetConfig } from '../../services/asset/config.ts';
import { type Env, loadConfig } from '../../src/config.ts';

/** The kernel's configuration plus the asset section, which keeps the download-link key. */
function loadWithAsset(env: Env, opts?: Parameters<typeof loadConfig>[1]) {
  const config = loadConfig(env, opts);
  return { ...config, asset: readAssetConfig(config) };
}

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'gaia-config-secrets-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const mode = (path: string) => statSync(path).mode & 0o777;
const read = (path: string) => readFileSync(path, 'utf8').trim();

describe('persisted development secrets', () => {
  test('are created with mode 0600 under GAIA_DATA_DIR (made if missing) and hold what the config uses', () => {
    const dataDir = join(tempDir(), 'nested', 'data');
    const c = loadWithAsset({ GAIA_DATA_DIR: dataDir });
    expect(c.dataDir).toBe(dataDir);
    expect(readdirSync(dataDir).sort()).toEqual(['asset-url-secret', 'jwt-secret', 'web-session-secret']);
    for (const f of ['asset-url-secret', 'jwt-secret', 'web-session-secret']) {
      expect(mode(join(dataDir, f))).toBe(0o600);
      expect(read(join(dataDir, f)).length).toBeGreaterThanOrEqual(32);
    }
    expect(read(join(dataDir, 'jwt-secret'))).toBe(c.auth.jwtSecret);
    expect(read(join(dataDir, 'web-session-secret'))).toBe(c.web.sessionSecret);
    expect(read(join(dataDir, 'asset-url-secret'))).toBe(c.asset.urlSecret);
  });

  test('are reused by the next load, in development and in test', () => {
    const dataDir = tempDir();
    const first = loadWithAsset({ GAIA_DATA_DIR: dataDir });
    const second = loadWithAsset({ GAIA_DATA_DIR: dataDir, GAIA_ENV: 'test' });
    expect(second.auth.jwtSecret).toBe(first.auth.jwtSecret);
    expect(second.web.sessionSecret).toBe(first.web.sessionSecret);
    expect(second.asset.urlSecret).toBe(first.asset.urlSecret);
  });

  test('a different data folder gets different secrets', () => {
    const a = loadConfig({ GAIA_DATA_DIR: tempDir() });
    const b = loadConfig({ GAIA_DATA_DIR: tempDir() });
    expect(a.auth.jwtSecret).not.toBe(b.auth.jwtSecret);
  });

  test('all-in-one makes a fresh internal secret per start and writes none', () => {
    const dataDir = tempDir();
    const a = loadConfig({ GAIA_DATA_DIR: dataDir });
    const b = loadConfig({ GAIA_DATA_DIR: dataDir });
    expect(a.internalSecret).not.toBe(b.internalSecret);
    expect(existsSync(join(dataDir, 'internal-secret'))).toBe(false);
  });

  test('split processes in development share one persisted internal secret', () => {
    const dataDir = tempDir();
    const a = loadConfig({ GAIA_DATA_DIR: dataDir }, { split: true });
    const b = loadConfig({ GAIA_DATA_DIR: dataDir }, { split: true });
    expect(b.internalSecret).toBe(a.internalSecret);
    expect(mode(join(dataDir, 'internal-secret'))).toBe(0o600);
    expect(read(join(dataDir, 'internal-secret'))).toBe(a.internalSecret);
  });

  test('a secret file too short to be one is replaced, and tightened to 0600', () => {
    const dataDir = tempDir();
    const file = join(dataDir, 'jwt-secret');
    writeFileSync(file, 'short\n', { mode: 0o644 });
    const c = loadConfig({ GAIA_DATA_DIR: dataDir });
    expect(c.auth.jwtSecret).not.toBe('short');
    expect(c.auth.jwtSecret.length).toBeGreaterThanOrEqual(32);
    expect(read(file)).toBe(c.auth.jwtSecret);
    expect(mode(file)).toBe(0o600);
  });

  test('secrets from the environment are used as given and nothing is written for them', () => {
    const dataDir = tempDir();
    const env = {
      GAIA_DATA_DIR: dataDir,
      GAIA_JWT_SECRET: 'env-jwt-secret-0123456789abcdef-0123',
      WEB_SESSION_SECRET: 'env-web-secret-0123456789abcdef-0123',
      ASSET_URL_SECRET: 'env-asset-secret-0123456789abcdef-01',
    };
    const c = loadWithAsset(env);
    expect(c.auth.jwtSecret).toBe(env.GAIA_JWT_SECRET);
    expect(c.web.sessionSecret).toBe(env.WEB_SESSION_SECRET);
    expect(c.asset.urlSecret).toBe(env.ASSET_URL_SECRET);
    expect(readdirSync(dataDir)).toEqual([]);
  });

  test('with GAIA_INTERNAL_SECRET the download-link key derives from it, the same in every process', () => {
    const internal = 'shared-internal-secret-0123456789abcdef';
    const a = loadWithAsset({ GAIA_DATA_DIR: tempDir(), GAIA_INTERNAL_SECRET: internal }, { split: true });
    const b = loadWithAsset({ GAIA_DATA_DIR: tempDir(), GAIA_INTERNAL_SECRET: internal });
    expect(a.asset.urlSecret).toBe(b.asset.urlSecret);
    expect(a.asset.urlSecret).not.toBe(internal);
    expect(existsSync(join(a.dataDir, 'asset-url-secret'))).toBe(false);
    expect(a.internalSecret).toBe(internal);
  });

  test('production writes no JWT or session secret; the download-link key persists while GAIA_INTERNAL_SECRET is unset', () => {
    const dataDir = tempDir();
    const env = {
      GAIA_ENV: 'production',
      GAIA_DATA_DIR: dataDir,
      GAIA_JWT_SECRET: 'prod-jwt-secret-0123456789abcdef-0123',
      WEB_SESSION_SECRET: 'prod-web-secret-0123456789abcdef-0123',
    };
    const first = loadWithAsset(env);
    expect(readdirSync(dataDir)).toEqual(['asset-url-secret']);
    expect(mode(join(dataDir, 'asset-url-secret'))).toBe(0o600);
    expect(loadWithAsset(env).asset.urlSecret).toBe(first.asset.urlSecret);
  });

  test('production requires only the secrets the selected service uses', () => {
    const base = { GAIA_ENV: 'production', GAIA_DATA_DIR: tempDir() };
    const internal = { GAIA_INTERNAL_SECRET: 'shared-internal-secret-0123456789abcdef' };
    // chat signs and checks nothing but the internal identity
    expect(() => loadConfig({ ...base, ...internal }, { split: true, service: 'chat' })).not.toThrow();
    expect(() => loadConfig(base, { split: true, service: 'chat' })).toThrow(/GAIA_INTERNAL_SECRET/);
    expect(() => loadConfig({ ...base, ...internal }, { split: true, service: 'gateway' })).toThrow(
      /GAIA_JWT_SECRET/,
    );
    expect(() => loadConfig({ ...base, ...internal }, { split: true, service: 'web' })).toThrow(
      /WEB_SESSION_SECRET/,
    );
    expect(() => loadConfig(base, { service: 'all' })).toThrow(/GAIA_JWT_SECRET/);
  });

  test('a persisted secret readable by others is tightened to 0600', () => {
    const dataDir = tempDir();
    const path = join(dataDir, 'jwt-secret');
    writeFileSync(path, 'x'.repeat(40), { mode: 0o644 });
    expect(loadConfig({ GAIA_DATA_DIR: dataDir }).auth.jwtSecret).toBe('x'.repeat(40));
    expect(mode(path)).toBe(0o600);
  });
});
