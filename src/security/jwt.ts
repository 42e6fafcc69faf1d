/**
 * Verification of user JWTs, shared by the gateway and auth's `validate`.
 * HS256 under any configured secret; ES256/RS256 under a JWKS key when JWKS is enabled. Revocation
 * (rule 7) is the caller's business, because only it holds the revoked sets.
 */

import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import { LRUCache } from 'lru-cache';

export interface UserClaims extends JWTPayload {
  sub: string;
  email?: string;
  role?: string;
  session_id?: string;
  gaia_key_id?: string;
  app_metadata?: Record<string, unknown>;
  user_metadata?: Record<string, unknown>;
}

export type VerifyResult = { ok: true; claims: UserClaims } | { ok: false; reason: string };

export interface JwtVerifierOptions {
  secrets: string[];
  jwksUrl?: string;
  leewayS: number;
  issuer?: string;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Three base64url segments: the gateway's test for "JWT candidate". */
export function looksLikeJwt(value: string): boolean {
  return JWT_SHAPE.test(value);
}

export interface JwtVerifier {
  verify(token: string): Promise<VerifyResult>;
}

export function createJwtVerifier(opts: JwtVerifierOptions): JwtVerifier {
  const keys = [...new Set(opts.secrets.filter(Boolean))].map((s) => new TextEncoder().encode(s));
  // jose refetches at most once per cooldown on an unknown kid and keeps the last good set on failure.
  const jwks: JWTVerifyGetKey | undefined = opts.jwksUrl
    ? createRemoteJWKSet(new URL(opts.jwksUrl), { cooldownDuration: 30_000, cacheMaxAge: 600_000 })
    : undefined;
  const cache = new LRUCache<string, UserClaims>({ max: 10_000 });

  const checkClaims = (p: JWTPayload): string | null => {
    const aud = p.aud;
    const audOk = aud === 'authenticated' || (Array.isArray(aud) && aud.includes('authenticated'));
    if (!audOk) return 'audience';
    if (typeof p.exp !== 'number') return 'exp';
    if (typeof p.sub !== 'string' || p.sub === '' || p.sub.length > 128) return 'sub';
    if (p.role !== undefined && p.role !== 'authenticated') return 'role';
    if (opts.issuer && p.iss !== opts.issuer) return 'issuer';
    return null;
  };

  return {
    async verify(token) {
      if (token.length > 8192 || !looksLikeJwt(token)) return { ok: false, reason: 'malformed' };
      const cacheKey = new Bun.CryptoHasher('sha256').update(token).digest('hex');
      const hit = cache.get(cacheKey);
      if (hit) return { ok: true, claims: hit };

      let header: ReturnType<typeof decodeProtectedHeader>;
      try {
        header = decodeProtectedHeader(token);
      } catch {
        return { ok: false, reason: 'malformed' };
      }
      // Keys named inside the token are never fetched or trusted.
      if ('jku' in header || 'x5u' in header || 'jwk' in header) return { ok: false, reason: 'header' };
      const common = {
        clockTolerance: opts.leewayS,
        requiredClaims: ['exp'],
      };
      let payload: JWTPayload | undefined;
      try {
        if (header.alg === 'HS256') {
          for (const key of keys) {
            try {
              payload = (await jwtVerify(token, key, { ...common, algorithms: ['HS256'] })).payload;
              break;
            } catch (err) {
              if (!(err instanceof errors.JWSSignatureVerificationFailed)) throw err;
            }
          }
          if (!payload) return { ok: false, reason: 'signature' };
        } else if ((header.alg === 'ES256' || header.alg === 'RS256') && jwks) {
          payload = (await jwtVerify(token, jwks, { ...common, algorithms: ['ES256', 'RS256'] })).payload;
        } else return { ok: false, reason: 'algorithm' };
      } catch (err) {
        return { ok: false, reason: err instanceof Error ? err.name : 'invalid' };
      }
      const now = Date.now() / 1000;
      if (typeof payload.iat === 'number' && payload.iat > now + opts.leewayS)
        return { ok: false, reason: 'iat' };
      const bad = checkClaims(payload);
      if (bad) return { ok: false, reason: bad };
      const claims = payload as UserClaims;
      const ttl = Math.min((claims.exp! - now) * 1000, 300_000);
      if (ttl > 0) cache.set(cacheKey, claims, { ttl });
      return { ok: true, claims };
    },
  };
}
