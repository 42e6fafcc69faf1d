/**
 * The auth service's bus events and audit rows. Events are
 * published after the commit they describe and never fail a request; payloads carry ids, names and
 * prefixes only: never a password, token, refresh token, raw key, key hash or address.
 */
import type { Db, Orm } from '../../db/index.ts';
import type { Bus } from '../../src/bus/types.ts';
import type { Logger } from '../../src/log.ts';
import { localLogout } from '../../src/security/local-revocations.ts';

export type AuthProviderName = 'local' | 'supabase';

export class AuthEvents {
  constructor(
    private readonly bus: Bus,
    private readonly log: Logger,
    private readonly provider: AuthProviderName,
  ) {}

  private publish(subject: string, payload: Record<string, unknown>): void {
    const data = { ...payload, timestamp: new Date().toISOString() };
    try {
      void this.bus
        .publish(subject, data)
        .catch((err: unknown) => this.log.warn('bus publish failed', { subject, error: String(err) }));
    } catch (err) {
      this.log.warn('bus publish failed', { subject, error: String(err) });
    }
  }

  register(userId: string): void {
    this.publish('gaia.auth.register', { event: 'register', user_id: userId, provider: this.provider });
  }

  login(userId: string, sessionId: string | null): void {
    this.publish('gaia.auth.login', {
      event: 'login',
      user_id: userId,
      provider: this.provider,
      method: 'password',
      session_id: sessionId,
    });
  }

  apiKeyLogin(userId: string, keyId: string): void {
    this.publish('gaia.auth.login', {
      event: 'login',
      user_id: userId,
      provider: this.provider,
      method: 'api_key',
      session_id: null,
      key_id: keyId,
    });
  }

  logout(userId: string, sessionId: string, reason: 'user' | 'refresh_token_reuse'): void {
    // The gateway in this process refuses the session before the response leaves, whatever NATS is doing.
    localLogout(this.bus, sessionId);
    this.publish('gaia.auth.logout', { event: 'logout', user_id: userId, session_id: sessionId, reason });
  }

  apiKeyCreated(k: {
    id: string;
    userId: string;
    name: string;
    prefix: string;
    expiresAt: Date | null;
  }): void {
    this.publish('gaia.auth.api_key.created', {
      event: 'api_key.created',
      key_id: k.id,
      user_id: k.userId,
      name: k.name,
      prefix: k.prefix,
      expires_at: k.expiresAt ? k.expiresAt.toISOString() : null,
    });
  }

  apiKeyRevoked(keyId: string, userId: string): void {
    this.publish('gaia.auth.api_key.revoked', { event: 'api_key.revoked', key_id: keyId, user_id: userId });
  }
}

export interface AuditEntry {
  actorType: 'user' | 'api_key' | 'service' | 'system';
  actorUserId?: string | null;
  actorApiKeyId?: string | null;
  eventType: 'auth.login_failed' | 'auth.api_key.created' | 'auth.api_key.revoked';
  targetType?: string;
  targetId?: string | null;
  targetUserId?: string | null;
  details?: Record<string, unknown>;
  requestId?: string | null;
}

export async function writeAudit(db: Db, orm: Orm, e: AuditEntry): Promise<void> {
  await orm.insert(db.t.auditLog).values({
    id: crypto.randomUUID(),
    actorType: e.actorType,
    actorUserId: e.actorUserId ?? null,
    actorApiKeyId: e.actorApiKeyId ?? null,
    eventType: e.eventType,
    targetType: e.targetType ?? null,
    targetId: e.targetId ?? null,
    targetUserId: e.targetUserId ?? null,
    details: e.details ?? {},
    requestId: e.requestId || null,
  });
}
