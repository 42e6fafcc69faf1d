/**
 * The Supabase provider: every flow goes through @supabase/supabase-js, unmodified.
 * Each operation gets its own client (no session is shared between requests) whose fetch enforces the
 * 10 s budget the gateway gives auth calls: a refused connection, a 5xx or the deadline answers 503 at once, even
 * while the SDK would keep retrying in the background. Users are mirrored into `users` (id = Supabase id).
 */
import {
  type AuthError,
  createClient,
  isAuthRetryableFetchError,
  type Session,
  type SupabaseClient,
  type User,
} from '@supabase/supabase-js';
import { decodeJwt } from 'jose';
import type { Config } from '../../../src/config.ts';
import { HttpError } from '../../../src/http/errors.ts';
import type { Identity } from '../../../src/http/identity.ts';
import type { Logger } from '../../../src/log.ts';
import type { AuthEvents } from '../events.ts';
import {
  type AuthResponseBody,
  type ConfirmInput,
  type ConfirmResult,
  MSG,
  type RegisterInput,
  type ResendResult,
  type SessionObject,
} from '../sessions/model.ts';
import type { SessionStore } from '../sessions/store.ts';
import type { UserObject } from '../users/model.ts';
import { normaliseEmail, toUserObject, type UserStore } from '../users/service.ts';
import { type AuthProvider, LoginFailed, providerUnavailable, userNotFound } from './types.ts';

export interface SupabaseProviderDeps {
  config: Config;
  log: Logger;
  users: UserStore;
  sessions: SessionStore;
  events: AuthEvents;
  /** Per-operation budget; 10 s by contract, shorter only in tests. */
  timeoutMs?: number;
}

export const SUPABASE_TIMEOUT_MS = 10_000;

const PROFILE_NEEDS_PASSWORD = 'Sign in with a password to update the profile';

function sessionIdOf(accessToken: string): string | null {
  try {
    const sid = decodeJwt(accessToken).session_id;
    return typeof sid === 'string' ? sid : null;
  } catch {
    return null;
  }
}

const date = (v: string | null | undefined): Date | null => {
  if (!v) return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
};

/** Supabase's message, kept to one short line (it is shown to the client after a prefix). */
function messageOf(error: AuthError): string {
  return String(error.message ?? 'Unknown error')
    .replace(/\s+/g, ' ')
    .slice(0, 200);
}

export class SupabaseProvider implements AuthProvider {
  readonly name = 'supabase' as const;
  private readonly d: SupabaseProviderDeps;
  private readonly url: string;
  private readonly anonKey: string;
  private readonly redirectTo: string;

  constructor(deps: SupabaseProviderDeps) {
    this.d = deps;
    const a = deps.config.auth;
    if (!a.supabaseUrl || !a.supabaseAnonKey)
      throw new Error('Supabase provider needs SUPABASE_URL and SUPABASE_ANON_KEY');
    this.url = a.supabaseUrl;
    this.anonKey = a.supabaseAnonKey;
    // Confirmation links always point at the web UI; nothing in a request can change where they go.
    this.redirectTo = `${a.webBaseUrl}/auth/confirm`;
  }

  /** Runs one operation with a fresh client under the time budget; 503 on outage. */
  private async call<T>(fn: (client: SupabaseClient) => Promise<T>, key = this.anonKey): Promise<T> {
    const ctl = new AbortController();
    let down = false;
    let fail: (err: HttpError) => void = () => {};
    const failed = new Promise<never>((_, reject) => {
      fail = reject;
    });
    failed.catch(() => {});
    const trip = () => {
      if (down) return;
      down = true;
      ctl.abort();
      fail(providerUnavailable());
    };
    const timer = setTimeout(trip, this.d.timeoutMs ?? SUPABASE_TIMEOUT_MS);
    const guardedFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      if (down) throw new Error('auth provider unavailable');
      try {
        const res = await fetch(input, { ...init, signal: ctl.signal });
        if (res.status >= 500) trip();
        return res;
      } catch (err) {
        trip();
        throw err;
      }
    };
    const client = createClient(this.url, key, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
      global: { fetch: guardedFetch as typeof fetch },
    });
    try {
      return await Promise.race([fn(client), failed]);
    } finally {
      clearTimeout(timer);
    }
  }

  private unavailableIf(error: AuthError): void {
    if (isAuthRetryableFetchError(error) || (error.status ?? 0) >= 500) throw providerUnavailable();
  }

  private async mirror(u: User, signedIn = false): Promise<void> {
    try {
      await this.d.users.upsertMirror({
        id: u.id,
        email: u.email ? normaliseEmail(u.email) : null,
        emailConfirmedAt: date(u.email_confirmed_at),
        lastSignInAt: date(u.last_sign_in_at) ?? (signedIn ? new Date() : null),
        appMetadata: (u.app_metadata ?? {}) as Record<string, unknown>,
        userMetadata: (u.user_metadata ?? {}) as Record<string, unknown>,
      });
    } catch (err) {
      // The Supabase account is the record; a failed mirror must not undo a successful sign-up or login.
      this.d.log.error('users mirror upsert failed', { user_id: u.id, error: String(err) });
    }
  }

  private sessionObject(s: Session): SessionObject {
    return {
      ...s,
      access_token: s.access_token,
      token_type: 'bearer',
      expires_in: s.expires_in,
      expires_at: s.expires_at ?? Math.floor(Date.now() / 1000) + s.expires_in,
      refresh_token: s.refresh_token,
      user: s.user as unknown as Record<string, unknown>,
      provider_token: s.provider_token ?? null,
      provider_refresh_token: s.provider_refresh_token ?? null,
    };
  }

  async register(input: RegisterInput): Promise<AuthResponseBody> {
    const email = normaliseEmail(input.email);
    const { data, error } = await this.call((c) =>
      c.auth.signUp({
        email,
        password: input.password,
        options: { data: input.data, emailRedirectTo: this.redirectTo },
      }),
    );
    if (error) {
      this.unavailableIf(error);
      if (error.status === 429) throw new HttpError(429, MSG.registerRateLimited);
      if (error.code === 'user_already_exists' || /already (been )?registered/i.test(error.message))
        throw new HttpError(400, MSG.emailTaken);
      throw new HttpError(400, `Registration failed: ${messageOf(error)}`);
    }
    if (!data.user) throw new HttpError(400, 'Registration failed: no user returned');
    await this.mirror(data.user, !!data.session);
    this.d.events.register(data.user.id);
    return {
      user: data.user as unknown as Record<string, unknown>,
      session: data.session ? this.sessionObject(data.session) : null,
    };
  }

  async login(emailInput: string, password: string): Promise<AuthResponseBody> {
    const email = normaliseEmail(emailInput);
    const { data, error } = await this.call((c) => c.auth.signInWithPassword({ email, password }));
    if (error) {
      this.unavailableIf(error);
      if (error.code === 'invalid_credentials' || /invalid login credentials/i.test(error.message))
        throw new LoginFailed(null);
      if (error.code === 'email_not_confirmed' || /email not confirmed/i.test(error.message))
        throw new HttpError(400, MSG.loginUnconfirmed);
      throw new HttpError(400, `Login failed: ${messageOf(error)}`);
    }
    if (!data.session || !data.user) throw providerUnavailable();
    await this.mirror(data.user, true);
    this.d.events.login(data.user.id, sessionIdOf(data.session.access_token));
    return {
      user: data.user as unknown as Record<string, unknown>,
      session: this.sessionObject(data.session),
    };
  }

  async refresh(refreshToken: string): Promise<AuthResponseBody> {
    if (refreshToken.length === 0 || refreshToken.length > 1024) throw new HttpError(400, MSG.refreshInvalid);
    const { data, error } = await this.call((c) => c.auth.refreshSession({ refresh_token: refreshToken }));
    if (error) {
      this.unavailableIf(error);
      throw new HttpError(400, MSG.refreshInvalid);
    }
    if (!data.session) throw new HttpError(400, MSG.refreshInvalid);
    const user = (data.user ?? data.session.user) as unknown as Record<string, unknown>;
    return { user, session: this.sessionObject(data.session) };
  }

  async logout(identity: Identity, bearer: string | null): Promise<void> {
    const sessionId = identity.session_id;
    if (identity.auth_type === 'jwt' && identity.sub && sessionId) {
      // Local revocation first: it holds even if Supabase cannot be told.
      await this.d.sessions.revoke(sessionId, identity.sub, 'user');
      this.d.events.logout(identity.sub, sessionId, 'user');
    }
    if (identity.auth_type !== 'jwt' || !bearer) return;
    try {
      const key = this.d.config.auth.supabaseServiceKey ?? this.anonKey;
      const { error } = await this.call((c) => c.auth.admin.signOut(bearer, 'local'), key);
      if (error)
        this.d.log.warn('Supabase sign-out refused', { status: error.status, code: error.code ?? null });
    } catch (err) {
      this.d.log.warn('Supabase sign-out failed', {
        error: err instanceof HttpError ? err.detail : String(err),
      });
    }
  }

  async confirm(input: ConfirmInput): Promise<ConfirmResult> {
    const { data, error } = await this.call((c) =>
      'tokenHash' in input
        ? c.auth.verifyOtp({ token_hash: input.tokenHash, type: 'signup' })
        : c.auth.verifyOtp({ email: normaliseEmail(input.email), token: input.token, type: 'signup' }),
    );
    if (error) {
      this.unavailableIf(error);
      if (/already (been )?confirmed/i.test(error.message)) throw new HttpError(400, MSG.alreadyConfirmed);
      if (error.code === 'otp_expired' || /expired|invalid/i.test(error.message))
        throw new HttpError(400, MSG.confirmInvalid);
      throw new HttpError(400, `Email confirmation failed: ${messageOf(error)}`);
    }
    if (!data.user) throw new HttpError(400, MSG.confirmInvalid);
    await this.mirror(data.user);
    return { message: MSG.confirmed, user: data.user as unknown as Record<string, unknown> };
  }

  async resend(emailInput: string): Promise<ResendResult> {
    const email = normaliseEmail(emailInput);
    const { error } = await this.call((c) =>
      c.auth.resend({ type: 'signup', email, options: { emailRedirectTo: this.redirectTo } }),
    );
    if (error) {
      this.unavailableIf(error);
      if (error.status === 429) throw new HttpError(429, MSG.resendRateLimited);
      if (error.code === 'user_not_found' || /not found/i.test(error.message))
        throw new HttpError(400, MSG.emailNotFound);
      throw new HttpError(400, `Failed to resend verification email: ${messageOf(error)}`);
    }
    return { message: MSG.resent(email), result: { user: null, session: null, message_id: null } };
  }

  async getUser(identity: Identity): Promise<UserObject | Record<string, unknown>> {
    const serviceKey = this.d.config.auth.supabaseServiceKey;
    if (serviceKey && identity.sub) {
      const sub = identity.sub;
      const { data, error } = await this.call((c) => c.auth.admin.getUserById(sub), serviceKey);
      if (error) this.unavailableIf(error);
      else if (data.user) return data.user as unknown as Record<string, unknown>;
    }
    const row = identity.sub ? await this.d.users.byId(identity.sub) : null;
    if (!row) throw userNotFound();
    return toUserObject(row);
  }

  async updateName(
    identity: Identity,
    name: string,
    bearer: string | null,
  ): Promise<UserObject | Record<string, unknown>> {
    const sub = identity.sub;
    if (!sub) throw userNotFound();
    const serviceKey = this.d.config.auth.supabaseServiceKey;
    let result: { data: { user: User | null }; error: AuthError | null };
    if (serviceKey) {
      result = await this.call(
        (c) => c.auth.admin.updateUserById(sub, { user_metadata: { name } }),
        serviceKey,
      );
    } else {
      if (identity.auth_type !== 'jwt' || identity.key_id || !bearer)
        throw new HttpError(403, PROFILE_NEEDS_PASSWORD);
      result = await this.call(async (c) => {
        // The gateway has just verified this access token, so the SDK never needs the refresh token it
        // insists on here (it only uses it for an expired access token).
        const set = await c.auth.setSession({ access_token: bearer, refresh_token: 'not-used' });
        if (set.error) return { data: { user: null }, error: set.error };
        return c.auth.updateUser({ data: { name } });
      });
    }
    if (result.error) {
      this.unavailableIf(result.error);
      throw new HttpError(400, `Profile update failed: ${messageOf(result.error)}`);
    }
    if (!result.data.user) throw userNotFound();
    await this.mirror(result.data.user);
    await this.d.users.setName(sub, name);
    return result.data.user as unknown as Record<string, unknown>;
  }
}
