/** API key management bodies and shapes. */
import { t } from 'elysia';
import { Integer } from '../../../src/http/schemas.ts';

export const CreateKeyBody = t.Object({
  name: t.String({ minLength: 1, maxLength: 100 }),
  expires_in_days: t.Optional(t.Union([t.Integer({ minimum: 1, maximum: 3650 }), t.Null()])),
});

/** Fields that would let a key carry more than its owner's rights; refused outright. */
export const FORBIDDEN_FIELDS = ['permissions', 'scopes', 'allowed_routes', 'admin', 'key', 'key_hash'];
export const FORBIDDEN_MESSAGE = "Not allowed: a key acts with its owner's rights";

export const MAX_ACTIVE_KEYS = 50;

export interface ApiKeyView {
  id: string;
  name: string;
  prefix: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  is_active: boolean;
  revoked_at: string | null;
}

const NullableTime = t.Union([t.String(), t.Null()]);

export const ApiKeyViewSchema = t.Object({
  id: t.String(),
  name: t.String(),
  prefix: t.String({ description: 'First characters of the key, to recognise it' }),
  created_at: t.String(),
  expires_at: NullableTime,
  last_used_at: NullableTime,
  is_active: t.Boolean(),
  revoked_at: NullableTime,
});

export const ApiKeyListSchema = t.Object({ api_keys: t.Array(ApiKeyViewSchema) });

export interface CreatedKey {
  id: string;
  name: string;
  key: string;
  prefix: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: null;
  is_active: true;
}

export const CreatedKeySchema = t.Object({
  id: t.String(),
  name: t.String(),
  key: t.String({ description: 'The secret key; shown this once only' }),
  prefix: t.String(),
  created_at: t.String(),
  expires_at: NullableTime,
  last_used_at: t.Null(),
  is_active: t.Literal(true),
});

export interface KeyLoginResponse {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  expires_at: number;
  user: { id: string; email: string | null };
}

export const KeyLoginResponseSchema = t.Object({
  access_token: t.String(),
  token_type: t.Literal('bearer'),
  expires_in: Integer(),
  expires_at: Integer(),
  user: t.Object({ id: t.String(), email: t.Union([t.String(), t.Null()]) }),
});

export const KEYS_NEED_PASSWORD = 'API keys cannot manage API keys; sign in with a password';
