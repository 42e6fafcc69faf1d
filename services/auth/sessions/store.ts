/**
 * Sessions and rotating refresh tokens. A session is one login; each
 * refresh marks the presented token used and issues its successor in the same session. A token presented
 * again within 10 s gets the same successor (two tabs refreshing at once); later, it is treated as stolen
 * and the whole session is revoked.
 */
import { and, eq, isNull } from 'drizzle-orm';
import type { Db, Orm } from '../../../db/index.ts';
import { hashRefreshToken, randomRefreshToken, type TokenService } from '../tokens/service.ts';
import { isUuid } from '../users/service.ts';

export const REUSE_GRACE_MS = 10_000;

export interface NewSession {
  sessionId: string;
  refreshToken: string;
  createdAt: Date;
}

export type RotateResult =
  | { kind: 'ok'; userId: string; sessionId: string; sessionCreatedAt: Date; refreshToken: string }
  | { kind: 'invalid' }
  | { kind: 'reuse'; userId: string; sessionId: string };

export class SessionStore {
  constructor(
    private readonly db: Db,
    private readonly tokens: TokenService,
    private readonly refreshTtlDays: number,
  ) {}

  /** Creates a session and its first refresh token; call inside the login transaction. */
  async create(tx: Orm, userId: string, userAgent: string | null): Promise<NewSession> {
    const t = this.db.t;
    const now = new Date();
    const sessionId = crypto.randomUUID();
    const refreshToken = randomRefreshToken();
    await tx.insert(t.authSessions).values({
      id: sessionId,
      userId,
      userAgent: userAgent ? userAgent.slice(0, 512) : null,
      refreshedAt: now,
      createdAt: now,
    });
    await tx.insert(t.refreshTokens).values({
      id: crypto.randomUUID(),
      sessionId,
      userId,
      tokenHash: hashRefreshToken(refreshToken),
      parentId: null,
      createdAt: now,
    });
    return { sessionId, refreshToken, createdAt: now };
  }

  async rotate(presented: string): Promise<RotateResult> {
    if (presented.length === 0 || presented.length > 256) return { kind: 'invalid' };
    const t = this.db.t;
    const hash = hashRefreshToken(presented);
    const [row] = await this.db.orm
      .select({
        id: t.refreshTokens.id,
        sessionId: t.refreshTokens.sessionId,
        userId: t.refreshTokens.userId,
        usedAt: t.refreshTokens.usedAt,
        revokedAt: t.refreshTokens.revokedAt,
        createdAt: t.refreshTokens.createdAt,
        sessionRevokedAt: t.authSessions.revokedAt,
        sessionCreatedAt: t.authSessions.createdAt,
      })
      .from(t.refreshTokens)
      .innerJoin(t.authSessions, eq(t.authSessions.id, t.refreshTokens.sessionId))
      .where(eq(t.refreshTokens.tokenHash, hash))
      .limit(1);
    if (!row?.sessionId || !row.userId) return { kind: 'invalid' };
    if (row.revokedAt || row.sessionRevokedAt) return { kind: 'invalid' };
    const now = Date.now();
    if (row.createdAt.getTime() + this.refreshTtlDays * 86_400_000 <= now) return { kind: 'invalid' };
    const successor = this.tokens.successorOf(presented);
    const ok = {
      kind: 'ok' as const,
      userId: row.userId,
      sessionId: row.sessionId,
      sessionCreatedAt: row.sessionCreatedAt,
      refreshToken: successor,
    };

    if (row.usedAt) {
      if (now - row.usedAt.getTime() < REUSE_GRACE_MS)
        return (await this.hasToken(successor)) ? ok : { kind: 'invalid' };
      await this.revoke(row.sessionId, row.userId, 'refresh_token_reuse');
      return { kind: 'reuse', userId: row.userId, sessionId: row.sessionId };
    }

    const rotated = await this.db.tx(async (tx) => {
      const at = new Date();
      const marked = await tx
        .update(t.refreshTokens)
        .set({ usedAt: at })
        .where(and(eq(t.refreshTokens.id, row.id), isNull(t.refreshTokens.usedAt)))
        .returning({ id: t.refreshTokens.id });
      // Another request rotated it a moment ago: its successor is ours too.
      if (marked.length === 0) return false;
      await tx.insert(t.refreshTokens).values({
        id: crypto.randomUUID(),
        sessionId: row.sessionId,
        userId: row.userId,
        tokenHash: hashRefreshToken(successor),
        parentId: row.id,
        createdAt: at,
      });
      await tx.update(t.authSessions).set({ refreshedAt: at }).where(eq(t.authSessions.id, row.sessionId!));
      return true;
    });
    if (!rotated && !(await this.hasToken(successor))) return { kind: 'invalid' };
    return ok;
  }

  private async hasToken(token: string): Promise<boolean> {
    const t = this.db.t;
    const [row] = await this.db.orm
      .select({ id: t.refreshTokens.id })
      .from(t.refreshTokens)
      .where(and(eq(t.refreshTokens.tokenHash, hashRefreshToken(token)), isNull(t.refreshTokens.revokedAt)))
      .limit(1);
    return !!row;
  }

  /**
   * Revokes a session of this user; true when it was live until now. A session id Gaia never issued (a
   * Supabase session) is recorded as revoked, so gateways that restart keep refusing its tokens.
   */
  async revoke(sessionId: string, userId: string, reason: 'user' | 'refresh_token_reuse'): Promise<boolean> {
    if (!isUuid(sessionId) || !isUuid(userId)) return false;
    const t = this.db.t;
    const now = new Date();
    return this.db.tx(async (tx) => {
      const [existing] = await tx
        .select({ userId: t.authSessions.userId, revokedAt: t.authSessions.revokedAt })
        .from(t.authSessions)
        .where(eq(t.authSessions.id, sessionId))
        .limit(1);
      if (existing) {
        if (existing.userId !== userId || existing.revokedAt) return false;
        await tx
          .update(t.authSessions)
          .set({ revokedAt: now, revokedReason: reason })
          .where(eq(t.authSessions.id, sessionId));
        await tx
          .update(t.refreshTokens)
          .set({ revokedAt: now })
          .where(and(eq(t.refreshTokens.sessionId, sessionId), isNull(t.refreshTokens.revokedAt)));
        return true;
      }
      const [user] = await tx.select({ id: t.users.id }).from(t.users).where(eq(t.users.id, userId)).limit(1);
      if (!user) return false;
      await tx
        .insert(t.authSessions)
        .values({ id: sessionId, userId, revokedAt: now, revokedReason: reason, createdAt: now })
        .onConflictDoNothing();
      return true;
    });
  }

  /** Whether this session has been revoked (for `validate`). */
  async isRevoked(sessionId: string): Promise<boolean> {
    if (!isUuid(sessionId)) return false;
    const t = this.db.t;
    const [row] = await this.db.orm
      .select({ revokedAt: t.authSessions.revokedAt })
      .from(t.authSessions)
      .where(eq(t.authSessions.id, sessionId))
      .limit(1);
    return !!row?.revokedAt;
  }
}
