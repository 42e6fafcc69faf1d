/** The User object (Supabase's shape) and the request bodies of `/auth/user`. */
import { t } from 'elysia';

export type JsonObject = Record<string, unknown>;

export interface UserIdentity {
  identity_id: string;
  id: string;
  user_id: string;
  provider: 'email';
  identity_data: { sub: string; email: string | null; email_verified: boolean };
  created_at: string;
  updated_at: string;
  last_sign_in_at: string | null;
}

export interface UserObject {
  id: string;
  aud: 'authenticated';
  role: 'authenticated';
  email: string | null;
  email_confirmed_at: string | null;
  phone: string;
  confirmed_at: string | null;
  last_sign_in_at: string | null;
  app_metadata: JsonObject;
  user_metadata: JsonObject;
  identities: UserIdentity[];
  created_at: string;
  updated_at: string;
  is_anonymous: false;
  /** Supabase may add more fields (`factors`, `confirmation_sent_at`…); they are passed through. */
  [extra: string]: unknown;
}

export const UpdateUserBody = t.Object({ name: t.String() });

export const NAME_MAX = 100;
