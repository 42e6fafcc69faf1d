/**
 * API keys: stored and looked up only as the lower-case hex SHA-256 of the key's bytes,
 * so no raw key is ever compared (no timing oracle) and old Python-era hashes keep working.
 */
import type { GaiaEnv } from '../config.ts';

export const DEV_API_KEY_HASH = '8065e7a7dd9a5d02ea3a79cea93036e7092910c309bb3e43070826f3b939f661';
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function hashApiKey(key: string): string {
  return new Bun.CryptoHasher('sha256').update(key).digest('hex');
}

/** Printable ASCII, 1–256 characters: anything else is invalid without a lookup. */
export function isPlausibleApiKey(key: string): boolean {
  return key.length > 0 && key.length <= 256 && /^[\x21-\x7e]+$/.test(key);
}

export function envTag(env: GaiaEnv): 'dev' | 'test' | 'prod' {
  return env === 'production' ? 'prod' : env === 'test' ? 'test' : 'dev';
}

/** `gaia_<env>_<43 CSPRNG characters>`; rejection sampling keeps the alphabet unbiased. */
export function generateApiKey(env: GaiaEnv): { key: string; prefix: string } {
  const out: string[] = [];
  while (out.length < 43) {
    for (const b of crypto.getRandomValues(new Uint8Array(64))) {
      if (b < 248 && out.length < 43) out.push(ALPHABET[b % 62]!);
    }
  }
  const head = `gaia_${envTag(env)}_`;
  const random = out.join('');
  return { key: head + random, prefix: head + random.slice(0, 4) };
}

export function sha256Hex(s: string): string {
  return new Bun.CryptoHasher('sha256').update(s).digest('hex');
}
