/**
 * The local provider: argon2id passwords through Bun.password, HS256 access tokens,
 * rotating refresh tokens stored as hashes, and optional email confirmation through a `Mailer`.
 */
import { eq } from 'drizzle-orm';
import { LRUCache } from 'lru-cache';
import { assignDefaultRole, constraintViolation, type Db } from '../../../db/index.ts';
import type { Config } from '../../../src/config.ts';
import { HttpError } from '../../../src/http/errors.ts';
import type { Identity } from '../../../src/http/identity.ts';
import type { Logger } from '../../../src/log.ts';
import type { AuthEvents } from '../events.ts';
import type { Mailer } from '../mail/mailer.ts';
import {
  type AuthResponseBody,
  type ConfirmInput,
  type ConfirmResult,
  MAX_PASSWORD,
  MSG,
  type RegisterInput,
  type RequestContext,
  type ResendResult,
  type SessionObject,
} from '../sessions/model.ts';
import type { SessionStore } from '../sessions/store.ts';
import type { TokenService } from '../tokens/service.ts';
import type { UserObject } from '../users/model.ts';
import {
  DEFAULT_APP_METADATA,
  displayNameOf,
  normaliseEmail,
  toUserObject,
  type UserRow,
  type UserStore,
} from '../users/service.ts';
import { type AuthProvider, LoginFailed, userNotFound } from './types.ts';

export interface LocalProviderDeps {
  config: Config;
  db: Db;
  log: Logger;
  users: UserStore;
  sessions: SessionStore;
  tokens: TokenService;
  events: AuthEvents;
  mailer: Mailer;
}

const RESEND_COOLDOWN_MS = 60_000;

export class LocalProvider implements AuthProvider {
  readonly name = 'local' as const;
  private readonly d: LocalProviderDeps;
  /**
   * Verified when the email is unknown, so both failures cost one argon2 verification. Its PHC prefix
   * (`$argon2id$v=19$m=…,t=…,p=…$`) is also the current cost: a stored hash with another prefix is re-hashed.
   */
  private readonly dummy: Promise<{ hash: string; params: string }>;
  private readonly resendAt = new LRUCache<string, number>({ max: 10_000, ttl: RESEND_COOLDOWN_MS });

  constructor(deps: LocalProviderDeps) {
    this.d = deps;
    this.dummy = Bun.password
      .hash(crypto.randomUUID(), 'argon2id')
      .then((hash) => ({ hash, params: paramsOf(hash) }));
  }

  async register(input: RegisterInput, ctx: RequestContext): Promise<AuthResponseBody> {
    const { config, db, users, sessions, events } = this.d;
    const a = config.auth;
    const email = normaliseEmail(input.email);
    if (input.password.length < a.minPasswordLength)
      throw new HttpError(400, MSG.passwordTooShort(a.minPasswordLength));
    if (input.password.length > MAX_PASSWORD) throw new HttpError(400, MSG.passwordTooLong);
    const domain = email.slice(email.lastIndexOf('@') + 1);
    if (a.allowedEmailDomains.length > 0 && !a.allowedEmailDomains.includes(domain))
      throw new HttpError(400, MSG.domainRefused);
    if (await users.byEmail(email)) throw new HttpError(400, MSG.emailTaken);

    const passwordHash = await Bun.password.hash(input.password, 'argon2id');
    const confirmFirst = a.requireEmailConfirmation;
    const id = crypto.randomUUID();
    const t = db.t;
    let created: { row: UserRow; session: Awaited<ReturnType<SessionStore['create']>> | null };
    try {
      created = await db.tx(async (tx) => {
        const now = new Date();
        const [row] = await tx
          .insert(t.users)
          .values({
            id,
            email,
            name: displayNameOf(input.data),
            passwordHash,
            emailConfirmedAt: confirmFirst ? null : now,
            appMetadata: DEFAULT_APP_METADATA,
            userMetadata: input.data,
            lastSignInAt: confirmFirst ? null : now,
            createdAt: now,
            updatedAt: now,
          })
          .returning();
        await assignDefaultRole(tx, id, t);
        const session = confirmFirst ? null : await sessions.create(tx, id, ctx.userAgent);
        return { row: row!, session };
      });
    } catch (err) {
      if (constraintViolation(err) === 'unique') throw new HttpError(400, MSG.emailTaken);
      throw err;
    }
    events.register(id);
    if (!created.session) {
      await this.sendConfirmation(created.row);
      return { user: toUserObject(created.row), session: null };
    }
    return this.authResponse(
      created.row,
      created.session.sessionId,
      created.session.createdAt,
      created.session.refreshToken,
    );
  }

  async login(emailInput: string, password: string, ctx: RequestContext): Promise<AuthResponseBody> {
    const { config, db, users, sessions, events } = this.d;
    const email = normaliseEmail(emailInput);
    const row = email.length <= 254 ? await users.byEmail(email) : null;
    const dummy = await this.dummy;
    const hash = row?.passwordHash && password.length <= MAX_PASSWORD ? row.passwordHash : dummy.hash;
    let ok = false;
    try {
      ok = await Bun.password.verify(password, hash);
    } catch {
      ok = false;
    }
    if (!row?.passwordHash || hash === dummy.hash || !ok) throw new LoginFailed(row?.id ?? null);
    if (config.auth.requireEmailConfirmation && !row.emailConfirmedAt)
      throw new HttpError(400, MSG.loginUnconfirmed);

    const rehash =
      paramsOf(row.passwordHash) !== dummy.params ? await Bun.password.hash(password, 'argon2id') : null;
    const t = db.t;
    const { user, session } = await db.tx(async (tx) => {
      const now = new Date();
      const [user] = await tx
        .update(t.users)
        .set({ lastSignInAt: now, updatedAt: now, ...(rehash ? { passwordHash: rehash } : {}) })
        .where(eq(t.users.id, row.id))
        .returning();
      const session = await sessions.create(tx, row.id, ctx.userAgent);
      return { user: user!, session };
    });
    events.login(user.id, session.sessionId);
    return this.authResponse(user, session.sessionId, session.createdAt, session.refreshToken);
  }

  async refresh(refreshToken: string): Promise<AuthResponseBody> {
    const { sessions, users, events } = this.d;
    const r = await sessions.rotate(refreshToken);
    if (r.kind === 'reuse') {
      events.logout(r.userId, r.sessionId, 'refresh_token_reuse');
      this.d.log.warn('refresh token reused: session revoked', {
        user_id: r.userId,
        session_id: r.sessionId,
      });
    }
    if (r.kind !== 'ok') throw new HttpError(400, MSG.refreshInvalid);
    const user = await users.byId(r.userId);
    if (!user) throw new HttpError(400, MSG.refreshInvalid);
    return this.authResponse(user, r.sessionId, r.sessionCreatedAt, r.refreshToken);
  }

  async logout(identity: Identity): Promise<void> {
    const sessionId = identity.session_id;
    if (identity.auth_type !== 'jwt' || !identity.sub || !sessionId) return;
    await this.d.sessions.revoke(sessionId, identity.sub, 'user');
    // Published even when the session was unknown here (a token signed with SUPABASE_JWT_SECRET by another
    // system): gateways then refuse its session id all the same. Handlers are idempotent.
    this.d.events.logout(identity.sub, sessionId, 'user');
  }

  async confirm(input: ConfirmInput): Promise<ConfirmResult> {
    const { config, db, users, tokens } = this.d;
    if (!config.auth.requireEmailConfirmation) throw new HttpError(400, MSG.confirmationDisabled);
    let row: UserRow | null = null;
    if ('tokenHash' in input) {
      const claim = tokens.readConfirmationLinkToken(input.tokenHash);
      if (claim) {
        row = await users.byId(claim.userId);
        if (row && row.email !== claim.email) row = null;
      }
      if (!row) throw new HttpError(400, MSG.confirmInvalid);
      if (row.emailConfirmedAt) throw new HttpError(400, MSG.alreadyConfirmed);
    } else {
      row = await users.byEmail(normaliseEmail(input.email));
      if (!row?.email) throw new HttpError(400, MSG.confirmInvalid);
      if (row.emailConfirmedAt) throw new HttpError(400, MSG.alreadyConfirmed);
      if (!tokens.checkConfirmationCode(row.id, row.email, input.token))
        throw new HttpError(400, MSG.confirmInvalid);
    }
    const t = db.t;
    const now = new Date();
    const [updated] = await db.orm
      .update(t.users)
      .set({ emailConfirmedAt: now, updatedAt: now })
      .where(eq(t.users.id, row.id))
      .returning();
    return { message: MSG.confirmed, user: toUserObject(updated!) };
  }

  async resend(emailInput: string): Promise<ResendResult> {
    const { config, users } = this.d;
    if (!config.auth.requireEmailConfirmation) throw new HttpError(400, MSG.confirmationDisabled);
    const email = normaliseEmail(emailInput);
    const row = await users.byEmail(email);
    if (!row) throw new HttpError(400, MSG.emailNotFound);
    if (row.emailConfirmedAt) throw new HttpError(400, MSG.alreadyConfirmed);
    if (this.resendAt.has(email)) throw new HttpError(429, MSG.resendRateLimited);
    this.resendAt.set(email, Date.now());
    await this.sendConfirmation(row);
    return { message: MSG.resent(email), result: { user: null, session: null, message_id: null } };
  }

  async getUser(identity: Identity): Promise<UserObject> {
    const row = identity.sub ? await this.d.users.byId(identity.sub) : null;
    if (!row) throw userNotFound();
    return toUserObject(row);
  }

  async updateName(identity: Identity, name: string): Promise<UserObject> {
    const row = identity.sub ? await this.d.users.setName(identity.sub, name) : null;
    if (!row) throw userNotFound();
    return toUserObject(row);
  }

  private async sendConfirmation(row: UserRow): Promise<void> {
    if (!row.email) return;
    const { tokens, config, mailer, log } = this.d;
    const tokenHash = tokens.confirmationLinkToken(row.id, row.email);
    const link = `${config.auth.webBaseUrl}/auth/confirm?token_hash=${encodeURIComponent(tokenHash)}&type=signup`;
    try {
      await mailer.sendConfirmation({
        to: row.email,
        link,
        code: tokens.confirmationCode(row.id, row.email),
      });
    } catch (err) {
      log.warn('confirmation email failed', { user_id: row.id, error: String(err) });
    }
  }

  private async authResponse(
    row: UserRow,
    sessionId: string,
    sessionCreatedAt: Date,
    refreshToken: string,
  ): Promise<AuthResponseBody> {
    const user = toUserObject(row);
    const access = await this.d.tokens.accessToken(
      {
        userId: row.id,
        email: row.email,
        appMetadata: row.appMetadata ?? DEFAULT_APP_METADATA,
        userMetadata: row.userMetadata ?? {},
      },
      sessionId,
      Math.floor(sessionCreatedAt.getTime() / 1000),
    );
    const session: SessionObject = {
      access_token: access.token,
      token_type: 'bearer',
      expires_in: access.exp - access.iat,
      expires_at: access.exp,
      refresh_token: refreshToken,
      user,
      provider_token: null,
      provider_refresh_token: null,
    };
    return { user, session };
  }
}

/** `$argon2id$v=19$m=65536,t=2,p=1$` of a PHC string: algorithm, version and cost. */
function paramsOf(hash: string): string {
  const parts = hash.split('$');
  return parts.slice(0, 4).join('$');
}
