/**
 * Signed download links. A link carries its own expiry and an HMAC over `kind:id:exp`, so a game engine can fetch
 * the file with a bare GET (no headers) and a link for one asset, or for the preview, never opens another.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type LinkKind = 'file' | 'preview';

/** base64url HMAC-SHA256 of `{kind}:{id}:{exp}` (exp in unix seconds). */
export function signLink(kind: LinkKind, id: string, exp: number, secret: string): string {
  return createHmac('sha256', secret).update(`${kind}:${id}:${exp}`).digest('base64url');
}

/**
 * True when `sig` signs exactly this kind, id and exp and `exp` is still in the future. `exp` and `sig` arrive
 * straight from the query string, so anything that is not a plain decimal integer is refused before hashing
 * (`exp=1e12` or `exp=+5` would otherwise parse to a number whose signature was never issued).
 */
export function verifyLink(
  kind: LinkKind,
  id: string,
  exp: string | number | null | undefined,
  sig: string | null | undefined,
  secret: string,
  nowMs: number = Date.now(),
): boolean {
  if (exp === null || exp === undefined || !sig) return false;
  const expText = String(exp);
  if (!/^\d{1,15}$/.test(expText)) return false;
  const expS = Number(expText);
  if (expS * 1000 <= nowMs) return false;
  if (!/^[A-Za-z0-9_-]{43}$/.test(sig)) return false;
  const expected = Buffer.from(signLink(kind, id, expS, secret));
  const given = Buffer.from(sig);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** `{publicUrl}/api/v1/assets/{id}/{kind}?exp=…&sig=…`, valid for `ttlS` seconds from `now` (ms or Date). */
export function linkFor(
  publicUrl: string,
  kind: LinkKind,
  id: string,
  ttlS: number,
  secret: string,
  now: number | Date = Date.now(),
): string {
  const nowMs = typeof now === 'number' ? now : now.getTime();
  const exp = Math.floor(nowMs / 1000) + Math.max(1, Math.floor(ttlS));
  const base = publicUrl.replace(/\/+$/, '');
  return `${base}/api/v1/assets/${encodeURIComponent(id)}/${kind}?exp=${exp}&sig=${signLink(kind, id, exp, secret)}`;
}
