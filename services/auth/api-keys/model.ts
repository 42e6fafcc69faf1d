/** API key management bodies and shapes. */
import { t } from 'elysia';

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

export interface KeyLoginResponse {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  expires_at: number;
  user: { id: string; email: string | null };
}

export const KEYS_NEED_PASSWORD = 'API keys cannot manage API keys; sign in with a password';
