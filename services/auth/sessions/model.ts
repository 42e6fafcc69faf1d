/** Request bodies, response shapes and messages of register/login/refresh/logout/confirm/resend. */
import { t } from 'elysia';
import { Integer } from '../../../src/http/schemas.ts';
import { type UserObject, UserObjectSchema } from '../users/model.ts';

export const RegisterBody = t.Object({
  email: t.String(),
  password: t.String(),
  data: t.Optional(t.Union([t.Record(t.String(), t.Unknown()), t.Null()])),
});
export const LoginBody = t.Object({ email: t.String(), password: t.String() });
export const RefreshBody = t.Object({ refresh_token: t.String() });
export const ConfirmBody = t.Object({
  token: t.Optional(t.String()),
  email: t.Optional(t.String()),
  token_hash: t.Optional(t.String()),
});
export const ResendBody = t.Object({ email: t.String() });

export const MAX_PASSWORD = 1024;
export const MAX_METADATA_BYTES = 4096;

export const MSG = {
  invalidEmail: 'Please enter a valid email address',
  passwordTooShort: (n: number) => `Password must be at least ${n} characters long`,
  passwordTooLong: `Password must be at most ${MAX_PASSWORD} characters long`,
  emailTaken: 'This email is already registered',
  domainRefused: 'Registration is not allowed for this email domain',
  registerRateLimited: 'Too many registration attempts. Please try again later',
  loginInvalid: 'Login failed: Invalid login credentials',
  loginUnconfirmed: 'Login failed: Email not confirmed',
  refreshInvalid: 'Token refresh failed: Invalid Refresh Token',
  providerDown: 'Auth provider unavailable',
  loggedOut: 'Logged out successfully',
  confirmationDisabled: 'Email confirmation is not enabled on this server',
  confirmInvalid: 'Confirmation link is expired or invalid',
  alreadyConfirmed: 'Email is already confirmed',
  confirmed: 'Email confirmed successfully',
  emailNotFound: 'Email address not found',
  resendRateLimited: 'Too many requests. Please wait before requesting another email',
  resent: (email: string) => `Verification email sent to ${email}`,
} as const;

export interface SessionObject {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  expires_at: number;
  refresh_token: string;
  user: UserObject | Record<string, unknown>;
  provider_token: string | null;
  provider_refresh_token: string | null;
  [extra: string]: unknown;
}

export const SessionObjectSchema = t.Object(
  {
    access_token: t.String({ description: 'JWT for `Authorization: Bearer`' }),
    token_type: t.Literal('bearer'),
    expires_in: Integer({ description: 'Seconds the access token lives' }),
    expires_at: Integer({ description: 'Unix time the access token expires' }),
    refresh_token: t.String({ description: 'Single-use token for /auth/refresh' }),
    user: UserObjectSchema,
    provider_token: t.Union([t.String(), t.Null()]),
    provider_refresh_token: t.Union([t.String(), t.Null()]),
  },
  { description: 'Session (Supabase shape)' },
);

/** `session` is null when the account still has to confirm its email. */
export const AuthResponseSchema = t.Object({
  user: t.Union([UserObjectSchema, t.Null()]),
  session: t.Union([SessionObjectSchema, t.Null()]),
});

export const ConfirmResultSchema = t.Object({ message: t.String(), user: UserObjectSchema });

export const ResendResultSchema = t.Object({
  message: t.String(),
  result: t.Object({ user: t.Null(), session: t.Null(), message_id: t.Union([t.String(), t.Null()]) }),
});

export interface AuthResponseBody {
  user: UserObject | Record<string, unknown> | null;
  session: SessionObject | null;
}

export interface ConfirmResult {
  message: string;
  user: UserObject | Record<string, unknown>;
}

export interface ResendResult {
  message: string;
  result: { user: null; session: null; message_id: string | null };
}

export interface RegisterInput {
  email: string;
  password: string;
  data: Record<string, unknown>;
}

export type ConfirmInput = { tokenHash: string } | { token: string; email: string };

/** The caller as the service sees it: address and request id from the identity token. */
export interface RequestContext {
  ip: string;
  rid: string;
  userAgent: string | null;
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const EMAIL_SHAPE = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;

/** The registration email rule: well-formed, at most 254 characters, no control characters. */
export function isValidEmail(raw: string): boolean {
  if (CONTROL.test(raw)) return false;
  const email = raw.trim();
  return email.length > 0 && email.length <= 254 && EMAIL_SHAPE.test(email);
}
