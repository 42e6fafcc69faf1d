/**
 * Register, login, refresh, logout, confirm and resend, independent of the
 * provider: body rules shared by both providers, the per-(address, email) login throttle and the audit of
 * failed logins. Plain TypeScript; the controller only parses and routes.
 */
import type { Db } from '../../../db/index.ts';
import { HttpError } from '../../../src/http/errors.ts';
import type { Identity } from '../../../src/http/identity.ts';
import { validate } from '../../../src/http/validate.ts';
import type { Logger } from '../../../src/log.ts';
import { writeAudit } from '../events.ts';
import { type AuthProvider, LoginFailed } from '../providers/types.ts';
import { normaliseEmail } from '../users/service.ts';
import {
  type AuthResponseBody,
  ConfirmBody,
  type ConfirmResult,
  isValidEmail,
  LoginBody,
  MAX_METADATA_BYTES,
  MAX_PASSWORD,
  MSG,
  RefreshBody,
  RegisterBody,
  type RequestContext,
  ResendBody,
  type ResendResult,
} from './model.ts';
import type { LoginThrottle } from './throttle.ts';

export interface SessionsServiceDeps {
  db: Db;
  log: Logger;
  provider: AuthProvider;
  throttle: LoginThrottle;
}

/** `Authorization: Bearer <token>` as forwarded on logout and PATCH user; anything else is no token. */
export function bearerOf(headers: Headers): string | null {
  const m = /^bearer[ \t]+(\S+)$/i.exec((headers.get('authorization') ?? '').trim());
  return m?.[1] && m[1].length <= 8192 ? m[1] : null;
}

export class SessionsService {
  constructor(private readonly d: SessionsServiceDeps) {}

  async register(body: unknown, ctx: RequestContext): Promise<AuthResponseBody> {
    const b = validate(RegisterBody, body);
    const data = b.data ?? {};
    if (Buffer.byteLength(JSON.stringify(data)) > MAX_METADATA_BYTES)
      throw new HttpError(422, 'Invalid request body', {
        errors: [{ path: 'data', message: `Must be at most ${MAX_METADATA_BYTES} bytes` }],
      });
    if (!isValidEmail(b.email)) throw new HttpError(400, MSG.invalidEmail);
    if (b.password.length > MAX_PASSWORD) throw new HttpError(400, MSG.passwordTooLong);
    // Only `email`, `password` and `data` are read: `redirect_to`, `emailRedirectTo`, `api_base` and the
    // like are ignored by construction.
    return this.d.provider.register({ email: b.email, password: b.password, data: { ...data } }, ctx);
  }

  async login(body: unknown, ctx: RequestContext): Promise<AuthResponseBody> {
    const b = validate(LoginBody, body);
    const email = normaliseEmail(b.email);
    const { throttle } = this.d;
    throttle.check(ctx.ip, email);
    try {
      const res = await this.d.provider.login(b.email, b.password, ctx);
      throttle.succeed(ctx.ip, email);
      return res;
    } catch (err) {
      if (err instanceof LoginFailed) {
        throttle.fail(ctx.ip, email);
        await this.auditFailure(err.userId, ctx);
      }
      throw err;
    }
  }

  private async auditFailure(userId: string | null, ctx: RequestContext): Promise<void> {
    try {
      await writeAudit(this.d.db, this.d.db.orm, {
        actorType: 'user',
        actorUserId: userId,
        eventType: 'auth.login_failed',
        targetType: 'user',
        targetId: userId,
        targetUserId: userId,
        details: { reason: 'invalid_credentials', provider: this.d.provider.name },
        requestId: ctx.rid,
      });
    } catch (err) {
      this.d.log.warn('audit write failed', { event_type: 'auth.login_failed', error: String(err) });
    }
  }

  async refresh(body: unknown, ctx: RequestContext): Promise<AuthResponseBody> {
    const b = validate(RefreshBody, body);
    return this.d.provider.refresh(b.refresh_token, ctx);
  }

  /** The body is ignored whatever it is; the session comes from the identity. */
  async logout(identity: Identity, bearer: string | null): Promise<{ message: string }> {
    try {
      await this.d.provider.logout(identity, bearer);
    } catch (err) {
      this.d.log.error('logout failed', {
        rid: identity.rid,
        error: err instanceof Error ? err.message : String(err),
      });
      throw err;
    }
    return { message: MSG.loggedOut };
  }

  async confirm(body: unknown): Promise<ConfirmResult> {
    const b = validate(ConfirmBody, body);
    if (b.token_hash !== undefined) {
      if (b.token_hash === '' || b.token_hash.length > 2048) throw new HttpError(400, MSG.confirmInvalid);
      return this.d.provider.confirm({ tokenHash: b.token_hash });
    }
    const missing = [];
    if (b.token === undefined) missing.push({ path: 'token', message: 'Required' });
    if (b.email === undefined) missing.push({ path: 'email', message: 'Required' });
    if (missing.length > 0) throw new HttpError(422, 'Invalid request body', { errors: missing });
    if (b.token!.length > 64) throw new HttpError(400, MSG.confirmInvalid);
    if (!isValidEmail(b.email!)) throw new HttpError(400, MSG.invalidEmail);
    return this.d.provider.confirm({ token: b.token!, email: b.email! });
  }

  async resend(body: unknown): Promise<ResendResult> {
    const b = validate(ResendBody, body);
    if (!isValidEmail(b.email)) throw new HttpError(400, MSG.invalidEmail);
    return this.d.provider.resend(b.email);
  }
}
