/**
 * API keys: create (the raw key is returned once and stored only as its
 * SHA-256), list (never the key or its hash), revoke (every gateway refuses the key within 1 s through
 * `gaia.auth.api_key.revoked`) and the exchange of a key for a 15-minute JWT.
 */
import { and, desc, eq, gt, isNull, or, sql } from 'drizzle-orm';
import type { Db } from '../../../db/index.ts';
import type { Config } from '../../../src/config.ts';
import { isPlainObject } from '../../../src/http/body.ts';
import { HttpError } from '../../../src/http/errors.ts';
import type { Identity } from '../../../src/http/identity.ts';
import { requireUser } from '../../../src/http/service.ts';
import { validate } from '../../../src/http/validate.ts';
import type { Logger } from '../../../src/log.ts';
import { generateApiKey, hashApiKey } from '../../../src/security/apikey.ts';
import { type AuthEvents, writeAudit } from '../events.ts';
import type { TokenService } from '../tokens/service.ts';
import { DEFAULT_APP_METADATA, isUuid, type UserStore } from '../users/service.ts';
import {
  type ApiKeyView,
  type CreatedKey,
  CreateKeyBody,
  FORBIDDEN_FIELDS,
  FORBIDDEN_MESSAGE,
  KEYS_NEED_PASSWORD,
  type KeyLoginResponse,
  MAX_ACTIVE_KEYS,
} from './model.ts';

type KeyRow = Db['t']['apiKeys']['$inferSelect'];

export interface ApiKeysServiceDeps {
  config: Config;
  db: Db;
  log: Logger;
  users: UserStore;
  tokens: TokenService;
  events: AuthEvents;
}

const notFound = () => new HttpError(404, 'API key not found');
const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

function view(row: KeyRow): ApiKeyView {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    created_at: row.createdAt.toISOString(),
    expires_at: iso(row.expiresAt),
    last_used_at: iso(row.lastUsedAt),
    is_active: row.isActive && row.revokedAt === null,
    revoked_at: iso(row.revokedAt),
  };
}

export class ApiKeysService {
  constructor(private readonly d: ApiKeysServiceDeps) {}

  async create(identity: Identity, body: unknown): Promise<CreatedKey> {
    const user = requireUser(identity);
    // A password session only: an API key, or a JWT exchanged for one, cannot mint more keys.
    if (user.authType !== 'jwt' || user.keyId) throw new HttpError(403, KEYS_NEED_PASSWORD);
    if (isPlainObject(body)) {
      const forbidden = FORBIDDEN_FIELDS.filter((f) => Object.hasOwn(body, f));
      if (forbidden.length > 0)
        throw new HttpError(422, 'Invalid request body', {
          errors: forbidden.map((path) => ({ path, message: FORBIDDEN_MESSAGE })),
        });
    }
    const b = validate(CreateKeyBody, body);
    const name = b.name.trim();
    if (name === '')
      throw new HttpError(422, 'Invalid request body', { errors: [{ path: 'name', message: 'Required' }] });
    if (!isUuid(user.id)) throw new HttpError(403, KEYS_NEED_PASSWORD);

    const { db, config, events } = this.d;
    const t = db.t;
    const { key, prefix } = generateApiKey(config.env);
    const now = new Date();
    const expiresAt = b.expires_in_days ? new Date(now.getTime() + b.expires_in_days * 86_400_000) : null;
    const id = crypto.randomUUID();
    await db.tx(async (tx) => {
      const [count] = await tx
        .select({ n: sql<number>`count(*)` })
        .from(t.apiKeys)
        .where(
          and(
            eq(t.apiKeys.userId, user.id),
            eq(t.apiKeys.isActive, true),
            isNull(t.apiKeys.revokedAt),
            or(isNull(t.apiKeys.expiresAt), gt(t.apiKeys.expiresAt, now)),
          ),
        );
      if (Number(count?.n ?? 0) >= MAX_ACTIVE_KEYS)
        throw new HttpError(409, `API key limit reached (${MAX_ACTIVE_KEYS} active keys)`);
      await tx.insert(t.apiKeys).values({
        id,
        userId: user.id,
        name,
        keyHash: hashApiKey(key),
        prefix,
        permissions: {},
        isActive: true,
        expiresAt,
        createdAt: now,
        updatedAt: now,
      });
      await writeAudit(db, tx, {
        actorType: 'user',
        actorUserId: user.id,
        eventType: 'auth.api_key.created',
        targetType: 'api_key',
        targetId: id,
        targetUserId: user.id,
        details: { name, prefix, expires_at: iso(expiresAt) },
        requestId: identity.rid,
      });
    });
    events.apiKeyCreated({ id, userId: user.id, name, prefix, expiresAt });
    return {
      id,
      name,
      key,
      prefix,
      created_at: now.toISOString(),
      expires_at: iso(expiresAt),
      last_used_at: null,
      is_active: true,
    };
  }

  async list(identity: Identity, includeRevoked: boolean): Promise<{ api_keys: ApiKeyView[] }> {
    const user = requireUser(identity);
    if (!isUuid(user.id)) return { api_keys: [] };
    const { db } = this.d;
    const t = db.t;
    const rows = await db.orm
      .select()
      .from(t.apiKeys)
      .where(
        includeRevoked
          ? eq(t.apiKeys.userId, user.id)
          : and(eq(t.apiKeys.userId, user.id), eq(t.apiKeys.isActive, true), isNull(t.apiKeys.revokedAt)),
      )
      .orderBy(desc(t.apiKeys.createdAt), desc(t.apiKeys.id));
    return { api_keys: rows.map(view) };
  }

  async revoke(identity: Identity, keyId: string): Promise<void> {
    const user = requireUser(identity);
    // A malformed id is a 404 before any query.
    if (!isUuid(keyId)) throw notFound();
    const { db, events } = this.d;
    const t = db.t;
    const revoked = await db.tx(async (tx) => {
      const [row] = await tx.select().from(t.apiKeys).where(eq(t.apiKeys.id, keyId)).limit(1);
      if (!row || (row.userId !== user.id && !user.admin)) throw notFound();
      if (!row.isActive || row.revokedAt) return null;
      const now = new Date();
      await tx
        .update(t.apiKeys)
        .set({ isActive: false, revokedAt: now, updatedAt: now })
        .where(eq(t.apiKeys.id, keyId));
      await writeAudit(db, tx, {
        actorType: user.authType === 'api_key' ? 'api_key' : 'user',
        actorUserId: user.id,
        actorApiKeyId: user.keyId,
        eventType: 'auth.api_key.revoked',
        targetType: 'api_key',
        targetId: keyId,
        targetUserId: row.userId,
        details: { name: row.name, prefix: row.prefix },
        requestId: identity.rid,
      });
      return row;
    });
    if (revoked) events.apiKeyRevoked(revoked.id, revoked.userId);
  }

  /** `api-key-login`: the gateway has verified the key; this signs the exchange token. */
  async exchange(identity: Identity): Promise<KeyLoginResponse> {
    if (identity.auth_type !== 'api_key' || !identity.key_id || !identity.sub)
      throw new HttpError(401, 'API key required', { headers: { 'www-authenticate': 'Bearer' } });
    const { users, tokens, events } = this.d;
    const row = await users.byId(identity.sub);
    const email = row?.email ?? identity.email ?? null;
    const signed = await tokens.apiKeyToken(
      {
        userId: identity.sub,
        email,
        appMetadata: row?.appMetadata ?? DEFAULT_APP_METADATA,
        userMetadata: {},
      },
      identity.key_id,
    );
    events.apiKeyLogin(identity.sub, identity.key_id);
    return {
      access_token: signed.token,
      token_type: 'bearer',
      expires_in: signed.exp - signed.iat,
      expires_at: signed.exp,
      user: { id: identity.sub, email },
    };
  }
}
