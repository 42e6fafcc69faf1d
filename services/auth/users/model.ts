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

const Timestamp = t.String({ description: 'ISO 8601 time' });
const NullableTimestamp = t.Union([Timestamp, t.Null()]);

export const UserIdentitySchema = t.Object({
  identity_id: t.String(),
  id: t.String(),
  user_id: t.String(),
  provider: t.String(),
  identity_data: t.Record(t.String(), t.Unknown()),
  created_at: t.String(),
  updated_at: t.String(),
  last_sign_in_at: t.Optional(NullableTimestamp),
});

/**
 * The User object as answered. Looser than UserObject where a Supabase project answers more: extra fields
 * pass through, and identities of other providers exist there.
 */
export const UserObjectSchema = t.Object(
  {
    id: t.String(),
    aud: t.String(),
    role: t.String(),
    email: t.Union([t.String(), t.Null()]),
    email_confirmed_at: t.Optional(NullableTimestamp),
    phone: t.Optional(t.String()),
    confirmed_at: t.Optional(NullableTimestamp),
    last_sign_in_at: t.Optional(NullableTimestamp),
    app_metadata: t.Record(t.String(), t.Unknown()),
    user_metadata: t.Record(t.String(), t.Unknown()),
    identities: t.Optional(t.Array(UserIdentitySchema)),
    created_at: Timestamp,
    updated_at: t.Optional(Timestamp),
    is_anonymous: t.Optional(t.Boolean()),
  },
  { description: 'User object (Supabase shape); a Supabase provider may add fields' },
);

export const NAME_MAX = 100;
