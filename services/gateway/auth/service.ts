/**
 * Authentication at the gateway: reads credentials from exactly two
 * headers, verifies JWTs locally and API keys by hash against the shared database, with an LRU cache,
 * bus-driven revocation and a per-user roles cache. Everything here is plain TypeScript; no Elysia.
 */

import { and, eq, gt, inArray, isNotNull, isNull, or } from 'drizzle-orm';
import { LRUCache } from 'lru-cache';
import { assignDefaultRole, type Db, describeDbError, isDatabaseUnavailable } from '../../../db/index.ts';
import type { Bus } from '../../../src/bus/types.ts';
import type { Config } from '../../../src/config.ts';
import { HttpError } from '../../../src/http/errors.ts';
import type { Logger } from '../../../src/log.ts';
import { dbUnavailable } from '../../../src/metrics.ts';
import { DEV_API_KEY_HASH, hashApiKey, isPlausibleApiKey } from '../../../src/security/apikey.ts';
import {
  createJwtVerifier,
  type JwtVerifier,
  looksLikeJwt,
  type UserClaims,
} from '../../../src/security/jwt.ts';
import { onLocalLogout } from '../../../src/security/local-revocations.ts';

export interface Principal {
  authType: 'jwt' | 'api_key';
  userId: string;
  email: string | null;
  name: string | null;
  admin: boolean;
  sessionId: string | null;
  keyId: string | null;
  /** A JWT obtained by exchanging an API key (`api-key-login`): not a password session. */
  fromApiKey: boolean;
}

export interface Credentials {
  jwt?: string;
  apiKey?: string;
  /** A credential header was present but unusable (duplicated, oversized): an invalid key. */
  invalidKey?: boolean;
  /** SHA-256 of `apiKey`, computed once per request. */
  keyHash?: string;
}

function keyHashOf(creds: Credentials): string | undefined {
  if (!creds.apiKey) return undefined;
  creds.keyHash ??= hashApiKey(creds.apiKey);
  return creds.keyHash;
}

export type AuthOutcome =
  | { kind: 'ok'; principal: Principal }
  | { kind: 'none' }
  /** Rejected API key: 401 Could not validate credentials. */
  | { kind: 'bad_key' }
  /** Rejected JWT and no key: 401 Not authenticated, with error="invalid_token". */
  | { kind: 'bad_jwt' };

interface CachedKey {
  keyId: string;
  userId: string;
  email: string | null;
  name: string | null;
  keyAdmin: boolean;
  appAdmin: boolean;
  expiresAt: number | null;
}

const REVOKED_KEY_HOLD_MS = 16 * 60_000;
/** A verified JWT whose `sub` is not a UUID. */
const FOREIGN_SUBJECT = Symbol('foreign-subject');
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `Authorization` and `X-API-Key`, each at most once (a comma-joined value counts as twice). */
export function readCredentials(headers: Headers): Credentials {
  const out: Credentials = {};
  const authz = headers.get('authorization');
  if (authz !== null) {
    if (authz.length > 8192 || authz.includes(',')) {
      // An oversized or duplicated Authorization can't be trusted either way.
      out.invalidKey = true;
    } else {
      const m = /^bearer[ \t]+(.+)$/i.exec(authz.trim());
      const token = m?.[1]?.trim();
      if (token) {
        if (looksLikeJwt(token)) out.jwt = token;
        else out.apiKey = token;
      }
    }
  }
  const key = headers.get('x-api-key');
  if (key !== null) {
    // Fetch joins repeated headers with ", "; a key never contains that, so it means "sent twice".
    if (key.includes(', ') || key.length > 256 || key === '') out.invalidKey = true;
    else out.apiKey = key;
  }
  if (out.invalidKey) out.apiKey = undefined;
  return out;
}

function displayName(email: string | null, meta: unknown): string | null {
  const name = meta && typeof meta === 'object' ? (meta as Record<string, unknown>).name : undefined;
  if (typeof name === 'string' && name) return name;
  return email ? (email.split('@')[0] ?? null) : null;
}

export interface GatewayAuthOptions {
  config: Config;
  db: Db;
  bus: Bus;
  log: Logger;
}

export class GatewayAuth {
  private readonly config: Config;
  private readonly db: Db;
  private readonly log: Logger;
  private readonly jwt: JwtVerifier;
  private readonly keys: LRUCache<string, CachedKey>;
  private readonly hashByKeyId = new Map<string, string>();
  private readonly revokedKeys = new Map<string, number>();
  private readonly revokedSessions = new Map<string, number>();
  private readonly roleAdmin: LRUCache<string, boolean>;
  private readonly knownUsers = new LRUCache<string, true>({ max: 50_000 });
  private readonly lastUsedWrites = new Map<string, number>();
  /** Count of database lookups, so tests and benchmarks can prove cached requests do none. */
  dbLookups = 0;

  constructor(opts: GatewayAuthOptions) {
    this.config = opts.config;
    this.db = opts.db;
    this.log = opts.log;
    const a = opts.config.auth;
    this.jwt = createJwtVerifier({
      secrets: [a.jwtSecret, a.supabaseJwtSecret ?? ''],
      jwksUrl: a.supabaseJwksUrl,
      leewayS: a.jwtLeewayS,
      issuer: a.jwtIssuer,
    });
    const ttl = Math.max(1, a.apiKeyCacheTtlS) * 1000;
    this.keys = new LRUCache({
      max: 10_000,
      ttl,
      dispose: (v) => {
        this.hashByKeyId.delete(v.keyId);
      },
    });
    this.roleAdmin = new LRUCache({ max: 50_000, ttl });
    opts.bus.subscribe('gaia.auth.api_key.revoked', (m) => {
      const id = m.data.key_id;
      if (typeof id === 'string') this.revokeKey(id);
    });
    opts.bus.subscribe('gaia.auth.logout', (m) => {
      const id = m.data.session_id;
      if (typeof id === 'string') this.revokeSession(id);
    });
    // Logouts handled in this process arrive directly, so they hold even while NATS is down.
    onLocalLogout(opts.bus, (id) => this.revokeSession(id));
    // Events may have been missed while the bus was down: forget every verified key, and read the logouts and
    // revocations from the database again. A logout published during the outage may be sent before this
    // gateway has subscribed again (core NATS keeps nothing), so the database is what closes the window.
    opts.bus.onReconnect(() => {
      this.keys.clear();
      this.loadRevocations().catch((err) =>
        this.log.warn('could not reload revocations after the bus reconnected', {
          error: describeDbError(err),
        }),
      );
    });
  }

  revokeSession(sessionId: string): void {
    this.revokedSessions.set(sessionId, Date.now() + this.config.auth.jwtTtlS * 1000);
  }

  revokeKey(keyId: string): void {
    const hash = this.hashByKeyId.get(keyId);
    if (hash) this.keys.delete(hash);
    this.revokedKeys.set(keyId, Date.now() + REVOKED_KEY_HOLD_MS);
  }

  /** At start: keys revoked in the last 16 minutes and sessions revoked within the JWT lifetime. */
  async loadRevocations(): Promise<void> {
    const { t, orm } = this.db;
    const now = Date.now();
    const keys = await orm
      .select({ id: t.apiKeys.id, revokedAt: t.apiKeys.revokedAt })
      .from(t.apiKeys)
      .where(
        and(isNotNull(t.apiKeys.revokedAt), gt(t.apiKeys.revokedAt, new Date(now - REVOKED_KEY_HOLD_MS))),
      );
    for (const k of keys) this.revokedKeys.set(k.id, k.revokedAt!.getTime() + REVOKED_KEY_HOLD_MS);
    const ttlMs = this.config.auth.jwtTtlS * 1000;
    const sessions = await orm
      .select({ id: t.authSessions.id, revokedAt: t.authSessions.revokedAt })
      .from(t.authSessions)
      .where(and(isNotNull(t.authSessions.revokedAt), gt(t.authSessions.revokedAt, new Date(now - ttlMs))));
    for (const s of sessions) this.revokedSessions.set(s.id, s.revokedAt!.getTime() + ttlMs);
  }

  private isHeld(map: Map<string, number>, id: string | null | undefined): boolean {
    if (!id) return false;
    const until = map.get(id);
    if (until === undefined) return false;
    if (until < Date.now()) {
      map.delete(id);
      return false;
    }
    return true;
  }

  /** Whether a key with this hash is in the verified cache (the failure limit lets those through). */
  isCachedKey(creds: Credentials): boolean {
    const hash = keyHashOf(creds);
    return !!hash && this.keys.has(hash);
  }

  /**
   * Throws 503 `Service auth unavailable` when the database cannot answer a lookup: a key that cannot be
   * checked is neither valid nor invalid, and the client should retry rather than drop its key.
   */
  async authenticate(creds: Credentials): Promise<AuthOutcome> {
    try {
      return await this.authenticateOrThrow(creds);
    } catch (err) {
      if (!isDatabaseUnavailable(err)) throw err;
      this.log.warn('credential check failed: database unavailable', { error: describeDbError(err) });
      dbUnavailable.inc({ service: 'gateway' });
      throw new HttpError(503, 'Service auth unavailable');
    }
  }

  private async authenticateOrThrow(creds: Credentials): Promise<AuthOutcome> {
    let jwtRejected = false;
    let foreignSubject = false;
    if (creds.jwt) {
      const p = await this.jwtPrincipal(creds.jwt);
      if (p === FOREIGN_SUBJECT) foreignSubject = true;
      else if (p) return { kind: 'ok', principal: p };
      jwtRejected = true;
    }
    if (creds.invalidKey) return { kind: 'bad_key' };
    if (creds.apiKey) {
      const p = await this.verifyKey(creds.apiKey, keyHashOf(creds));
      return p ? { kind: 'ok', principal: p } : { kind: 'bad_key' };
    }
    // A genuine token for a subject Gaia cannot hold (not a UUID): its signature is fine, so the token is
    // not malformed; the credentials just do not name a Gaia user.
    if (foreignSubject) return { kind: 'bad_key' };
    return jwtRejected ? { kind: 'bad_jwt' } : { kind: 'none' };
  }

  async verifyJwt(token: string): Promise<Principal | null> {
    const p = await this.jwtPrincipal(token);
    return p === FOREIGN_SUBJECT ? null : p;
  }

  private async jwtPrincipal(token: string): Promise<Principal | null | typeof FOREIGN_SUBJECT> {
    const res = await this.jwt.verify(token);
    if (!res.ok) return null;
    const c: UserClaims = res.claims;
    // Every table keys users by UUID; another kind of `sub` would fail deep inside a query.
    if (typeof c.sub !== 'string' || !UUID_RE.test(c.sub)) return FOREIGN_SUBJECT;
    if (this.isHeld(this.revokedSessions, c.session_id)) return null;
    if (this.isHeld(this.revokedKeys, c.gaia_key_id)) return null;
    const email = typeof c.email === 'string' && c.email ? c.email.toLowerCase() : null;
    await this.ensureUser(c.sub, email);
    const appAdmin = c.app_metadata?.admin === true;
    const admin = appAdmin || (await this.hasAdminRole(c.sub));
    return {
      authType: 'jwt',
      userId: c.sub,
      email,
      name: displayName(email, c.user_metadata),
      admin,
      sessionId: typeof c.session_id === 'string' ? c.session_id : null,
      keyId: typeof c.gaia_key_id === 'string' ? c.gaia_key_id : null,
      fromApiKey: typeof c.gaia_key_id === 'string',
    };
  }

  async verifyKey(apiKey: string, precomputedHash?: string): Promise<Principal | null> {
    if (!isPlausibleApiKey(apiKey)) return null;
    const hash = precomputedHash ?? hashApiKey(apiKey);
    if (hash === DEV_API_KEY_HASH && this.config.isProduction && !this.config.seedDev) return null;
    const now = Date.now();
    let entry = this.keys.get(hash);
    if (!entry) {
      this.dbLookups++;
      const { t, orm } = this.db;
      const rows = await orm
        .select({
          keyId: t.apiKeys.id,
          userId: t.apiKeys.userId,
          permissions: t.apiKeys.permissions,
          expiresAt: t.apiKeys.expiresAt,
          email: t.users.email,
          appMetadata: t.users.appMetadata,
          userMetadata: t.users.userMetadata,
          name: t.users.name,
        })
        .from(t.apiKeys)
        .innerJoin(t.users, eq(t.users.id, t.apiKeys.userId))
        .where(and(eq(t.apiKeys.keyHash, hash), eq(t.apiKeys.isActive, true), isNull(t.apiKeys.revokedAt)))
        .limit(1);
      const row = rows[0];
      if (!row) return null;
      entry = {
        keyId: row.keyId,
        userId: row.userId,
        email: row.email,
        name: row.name ?? displayName(row.email, row.userMetadata),
        keyAdmin: (row.permissions as Record<string, unknown> | null)?.admin === true,
        appAdmin: (row.appMetadata as Record<string, unknown> | null)?.admin === true,
        expiresAt: row.expiresAt ? row.expiresAt.getTime() : null,
      };
      if (entry.expiresAt !== null && entry.expiresAt <= now) return null;
      if (this.isHeld(this.revokedKeys, entry.keyId)) return null;
      const ttl = Math.min(
        this.config.auth.apiKeyCacheTtlS * 1000,
        entry.expiresAt !== null ? entry.expiresAt - now : Number.POSITIVE_INFINITY,
      );
      if (ttl > 0) {
        this.keys.set(hash, entry, { ttl });
        this.hashByKeyId.set(entry.keyId, hash);
      }
    }
    if (entry.expiresAt !== null && entry.expiresAt <= now) return null;
    if (this.isHeld(this.revokedKeys, entry.keyId)) return null;
    this.touchKey(entry.keyId, now);
    const admin = entry.keyAdmin || entry.appAdmin || (await this.hasAdminRole(entry.userId));
    return {
      authType: 'api_key',
      userId: entry.userId,
      email: entry.email,
      name: entry.name,
      admin,
      sessionId: null,
      keyId: entry.keyId,
      fromApiKey: true,
    };
  }

  /** `last_used_at` at most once a minute per key, off the request path. */
  private touchKey(keyId: string, now: number): void {
    const last = this.lastUsedWrites.get(keyId) ?? 0;
    if (now - last < 60_000) return;
    this.lastUsedWrites.set(keyId, now);
    const { t, orm } = this.db;
    void Promise.resolve(
      orm
        .update(t.apiKeys)
        .set({ lastUsedAt: new Date(now) })
        .where(eq(t.apiKeys.id, keyId)),
    ).catch((err: unknown) => this.log.warn('last_used_at update failed', { error: describeDbError(err) }));
  }

  private async hasAdminRole(userId: string): Promise<boolean> {
    const cached = this.roleAdmin.get(userId);
    if (cached !== undefined) return cached;
    this.dbLookups++;
    const { t, orm } = this.db;
    const rows = await orm
      .select({ expiresAt: t.userRoles.expiresAt })
      .from(t.userRoles)
      .innerJoin(t.roles, eq(t.roles.id, t.userRoles.roleId))
      .where(
        and(
          eq(t.userRoles.userId, userId),
          eq(t.userRoles.contextType, 'global'),
          inArray(t.roles.name, ['super_admin', 'admin']),
          or(isNull(t.userRoles.expiresAt), gt(t.userRoles.expiresAt, new Date())),
        ),
      )
      .limit(1);
    const admin = rows.length > 0;
    this.roleAdmin.set(userId, admin);
    return admin;
  }

  /** A verified JWT whose `sub` has no row gets one, so data is keyed by one id whatever the credential. */
  private async ensureUser(id: string, email: string | null): Promise<void> {
    if (this.knownUsers.has(id)) return;
    const { t, orm } = this.db;
    this.dbLookups++;
    const existing = await orm.select({ id: t.users.id }).from(t.users).where(eq(t.users.id, id)).limit(1);
    if (existing.length === 0) {
      let useEmail = email;
      if (email) {
        const taken = await orm
          .select({ id: t.users.id })
          .from(t.users)
          .where(eq(t.users.email, email))
          .limit(1);
        if (taken.length > 0) useEmail = null;
      }
      const now = new Date();
      const inserted = await orm
        .insert(t.users)
        .values({
          id,
          email: useEmail,
          appMetadata: { provider: 'email', providers: ['email'] },
          userMetadata: {},
          createdAt: now,
          updatedAt: now,
        })
        .onConflictDoNothing()
        .returning({ id: t.users.id });
      // Every new user gets the global role `user`, whoever created the row.
      if (inserted.length > 0) await assignDefaultRole(orm, id);
    }
    this.knownUsers.set(id, true);
  }
}
