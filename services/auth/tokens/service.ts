/**
 * Everything Gaia signs or derives for auth: HS256 access tokens with Supabase-style
 * claims, the 15-minute tokens of `api-key-login`, opaque refresh tokens (only their SHA-256 is stored) and
 * the stateless email-confirmation codes of the local provider.
 */
import { timingSafeEqual } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Config } from '../../../src/config.ts';
import { sha256Hex } from '../../../src/security/apikey.ts';

export const API_KEY_TOKEN_TTL_S = 900;

export interface AccessTokenSubject {
  userId: string;
  email: string | null;
  appMetadata: Record<string, unknown>;
  userMetadata: Record<string, unknown>;
}

export interface SignedToken {
  token: string;
  iat: number;
  exp: number;
}

const encoder = new TextEncoder();

function hmac(key: string, data: string): Uint8Array {
  return new Uint8Array(new Bun.CryptoHasher('sha256', key).update(data).digest());
}

export function randomRefreshToken(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url');
}

export function hashRefreshToken(token: string): string {
  return sha256Hex(token);
}

export class TokenService {
  private readonly accessKey: Uint8Array;
  private readonly apiKeyTokenKey: Uint8Array;
  /** Separate derived keys, so a value made for one purpose never verifies as another. */
  private readonly rotationKey: string;
  private readonly confirmKey: string;
  private readonly issuer: string;

  constructor(private readonly config: Config) {
    const a = config.auth;
    this.accessKey = encoder.encode(a.jwtSecret);
    // With Supabase, exchanged tokens use the project's secret when known, so Supabase-side tools accept them.
    this.apiKeyTokenKey = encoder.encode(
      a.provider === 'supabase' ? (a.supabaseJwtSecret ?? a.jwtSecret) : a.jwtSecret,
    );
    this.rotationKey = sha256Hex(`gaia-refresh-rotation:${a.jwtSecret}`);
    this.confirmKey = sha256Hex(`gaia-email-confirmation:${a.jwtSecret}`);
    this.issuer = a.jwtIssuer ?? 'gaia';
  }

  get ttlS(): number {
    return this.config.auth.jwtTtlS;
  }

  /** A local access token; `authTime` is when the session was created (the `amr` timestamp). */
  async accessToken(s: AccessTokenSubject, sessionId: string, authTime: number): Promise<SignedToken> {
    const iat = Math.floor(Date.now() / 1000);
    const exp = iat + this.config.auth.jwtTtlS;
    const token = await new SignJWT({
      iss: this.issuer,
      aud: 'authenticated',
      sub: s.userId,
      iat,
      exp,
      email: s.email ?? '',
      phone: '',
      role: 'authenticated',
      aal: 'aal1',
      amr: [{ method: 'password', timestamp: authTime }],
      session_id: sessionId,
      is_anonymous: false,
      app_metadata: s.appMetadata,
      user_metadata: s.userMetadata,
    })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .sign(this.accessKey);
    return { token, iat, exp };
  }

  /** The `api-key-login` token: no session, `gaia_key_id` so revoking the key revokes the token. */
  async apiKeyToken(s: AccessTokenSubject, keyId: string): Promise<SignedToken> {
    const iat = Math.floor(Date.now() / 1000);
    const exp = iat + API_KEY_TOKEN_TTL_S;
    const token = await new SignJWT({
      iss: this.issuer,
      aud: 'authenticated',
      sub: s.userId,
      user_id: s.userId,
      iat,
      exp,
      email: s.email ?? '',
      phone: '',
      role: 'authenticated',
      aal: 'aal1',
      amr: [{ method: 'api_key', timestamp: iat }],
      is_anonymous: false,
      app_metadata: s.appMetadata,
      user_metadata: { auth_source: 'api_key_exchange', original_auth_type: 'user_api_key' },
      gaia_key_id: keyId,
    })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .sign(this.apiKeyTokenKey);
    return { token, iat, exp };
  }

  /**
   * The successor of a refresh token is derived from it with a keyed hash, so a client that presents the
   * same token twice within the grace window gets the same successor back from any instance, while only
   * hashes are ever stored and nobody without the server secret can compute a successor.
   */
  successorOf(refreshToken: string): string {
    return Buffer.from(hmac(this.rotationKey, `successor:${refreshToken}`)).toString('base64url');
  }

  // ── Email confirmation (local provider) ─────────────────────────────────────────────────────────────

  /** A link token: `<base64url payload>.<base64url mac>`, valid until `expS`. Not JWT-shaped on purpose. */
  confirmationLinkToken(userId: string, email: string, ttlS = 86_400): string {
    const payload = Buffer.from(
      JSON.stringify({ u: userId, e: email, x: Math.floor(Date.now() / 1000) + ttlS }),
    ).toString('base64url');
    const mac = Buffer.from(hmac(this.confirmKey, `link:${payload}`)).toString('base64url');
    return `${payload}.${mac}`;
  }

  /** The user id and email a link token names, or null when it is forged, malformed or expired. */
  readConfirmationLinkToken(tokenHash: string): { userId: string; email: string } | null {
    if (tokenHash.length > 1024) return null;
    const [payload, mac, extra] = tokenHash.split('.');
    if (!payload || !mac || extra !== undefined) return null;
    const expected = hmac(this.confirmKey, `link:${payload}`);
    let given: Uint8Array;
    try {
      given = new Uint8Array(Buffer.from(mac, 'base64url'));
    } catch {
      return null;
    }
    if (given.byteLength !== expected.byteLength || !timingSafeEqual(given, expected)) return null;
    try {
      const p = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
      if (typeof p.u !== 'string' || typeof p.e !== 'string' || typeof p.x !== 'number') return null;
      if (p.x < Date.now() / 1000) return null;
      return { userId: p.u, email: p.e };
    } catch {
      return null;
    }
  }

  /** A six-digit code for one user and email, changing every hour; the previous hour's code still works. */
  confirmationCode(userId: string, email: string, at = Date.now()): string {
    const window = Math.floor(at / 3_600_000);
    return this.codeFor(userId, email, window);
  }

  checkConfirmationCode(userId: string, email: string, code: string): boolean {
    if (!/^\d{6}$/.test(code)) return false;
    const window = Math.floor(Date.now() / 3_600_000);
    const given = encoder.encode(code);
    let ok = false;
    for (const w of [window, window - 1]) {
      const expected = encoder.encode(this.codeFor(userId, email, w));
      if (timingSafeEqual(given, expected)) ok = true;
    }
    return ok;
  }

  private codeFor(userId: string, email: string, window: number): string {
    const mac = hmac(this.confirmKey, `code:${userId}:${email}:${window}`);
    const n = new DataView(mac.buffer, mac.byteOffset, mac.byteLength).getUint32(0) % 1_000_000;
    return String(n).padStart(6, '0');
  }
}
