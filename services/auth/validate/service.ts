/**
 * `POST /auth/validate`: the gateway's checks, revocation included, answered as data.
 * The token is checked first (signature, expiry and claims by the shared verifier, revocation against the database, which
 * every instance shares), then the key. A database failure is a 503, never "valid".
 */
import { and, eq, isNull } from 'drizzle-orm';
import type { Db } from '../../../db/index.ts';
import type { Config } from '../../../src/config.ts';
import { HttpError } from '../../../src/http/errors.ts';
import { validate } from '../../../src/http/validate.ts';
import type { Logger } from '../../../src/log.ts';
import { DEV_API_KEY_HASH, hashApiKey, isPlausibleApiKey } from '../../../src/security/apikey.ts';
import { createJwtVerifier, type JwtVerifier } from '../../../src/security/jwt.ts';
import type { SessionStore } from '../sessions/store.ts';
import { isUuid } from '../users/service.ts';
import { NO_CREDENTIALS, ValidateBody, type ValidateResult } from './model.ts';

export class ValidateService {
  private readonly jwt: JwtVerifier;

  constructor(
    private readonly config: Config,
    private readonly db: Db,
    private readonly sessions: SessionStore,
    private readonly log: Logger,
  ) {
    const a = config.auth;
    this.jwt = createJwtVerifier({
      secrets: [a.jwtSecret, a.supabaseJwtSecret ?? ''],
      jwksUrl: a.supabaseJwksUrl,
      leewayS: a.jwtLeewayS,
      issuer: a.jwtIssuer,
    });
  }

  async validate(body: unknown): Promise<ValidateResult> {
    const b = validate(ValidateBody, body);
    try {
      if (b.token !== undefined) {
        const userId = await this.checkJwt(b.token);
        if (userId) return { valid: true, auth_type: 'jwt', user_id: userId, error: null };
      }
      if (b.api_key !== undefined) {
        const userId = await this.checkKey(b.api_key);
        if (userId) return { valid: true, auth_type: 'api_key', user_id: userId, error: null };
      }
    } catch (err) {
      if (err instanceof HttpError) throw err;
      this.log.error('validate lookup failed', { error: err instanceof Error ? err.message : String(err) });
      throw new HttpError(503, 'Service auth unavailable');
    }
    return NO_CREDENTIALS;
  }

  /** The token's user id when it passes every validation rule, else null. */
  async checkJwt(token: string): Promise<string | null> {
    const res = await this.jwt.verify(token);
    if (!res.ok) return null;
    const c = res.claims;
    if (typeof c.session_id === 'string' && (await this.sessions.isRevoked(c.session_id))) return null;
    if (typeof c.gaia_key_id === 'string' && !(await this.keyIsLive(c.gaia_key_id))) return null;
    return c.sub;
  }

  private async keyIsLive(keyId: string): Promise<boolean> {
    if (!isUuid(keyId)) return false;
    const t = this.db.t;
    const [row] = await this.db.orm
      .select({ id: t.apiKeys.id })
      .from(t.apiKeys)
      .where(and(eq(t.apiKeys.id, keyId), eq(t.apiKeys.isActive, true), isNull(t.apiKeys.revokedAt)))
      .limit(1);
    return !!row;
  }

  /** The key owner's id when the key is live, else null. Looked up by hash only. */
  async checkKey(key: string): Promise<string | null> {
    if (!isPlausibleApiKey(key)) return null;
    const hash = hashApiKey(key);
    if (hash === DEV_API_KEY_HASH && this.config.isProduction && !this.config.seedDev) return null;
    const t = this.db.t;
    const [row] = await this.db.orm
      .select({ userId: t.apiKeys.userId, expiresAt: t.apiKeys.expiresAt })
      .from(t.apiKeys)
      .innerJoin(t.users, eq(t.users.id, t.apiKeys.userId))
      .where(and(eq(t.apiKeys.keyHash, hash), eq(t.apiKeys.isActive, true), isNull(t.apiKeys.revokedAt)))
      .limit(1);
    if (!row) return null;
    if (row.expiresAt && row.expiresAt.getTime() <= Date.now()) return null;
    return row.userId;
  }
}
